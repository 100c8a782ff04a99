import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { Agent, AgentListQuery, AgentVersion, CreateAgentBody, Execution, PageQuery, Pagination, SavedAgent, StartExecutionBody, UpdateAgentBody, Uuid } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { respond, respondShowingSecretOnce } from "../http/respond";
import type { RouteDeps } from "./deps";
import { startedExecutionId } from "./started-execution-id";

const AgentParams = z.object({ id: Uuid });

/** Agents: create, list, read, change, activate, pause, delete, their versions, and start executions of them. */
export function agentRoutes({ bus, db, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/api/agents",
      {
        schema: {
          tags: ["agents"], operationId: "createAgent",
          summary: "Create an agent (draft, version 1); with `notifyUrl`, the answer shows its callback secret `notifySecret`, once",
          body: CreateAgentBody,
          response: { 201: z.object({ data: SavedAgent }) },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respondShowingSecretOnce(db, request, reply, principal, 201, "notifySecret", () => bus.request("registry.agents.create", request.body, busOptions(request, principal)));
      },
    );

    app.get(
      "/api/agents",
      { schema: { tags: ["agents"], operationId: "listAgents", summary: "List the workspace's agents", querystring: PageQuery.extend(AgentListQuery.shape), response: { 200: z.object({ data: z.array(Agent), pagination: Pagination }) } } },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("registry.agents.list", request.query, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.get("/api/agents/:id", { schema: { tags: ["agents"], operationId: "getAgent", summary: "Read an agent", params: AgentParams, response: { 200: z.object({ data: Agent }) } } }, async (request) => {
      const principal = await auth.authenticate(request);
      return { data: await bus.request("registry.agents.get", { id: request.params.id }, busOptions(request, principal)) };
    });

    app.patch(
      "/api/agents/:id",
      {
        schema: {
          tags: ["agents"], operationId: "updateAgent",
          summary: "Change an agent's config: a change makes a new version (`version` + 1), no change makes none; a new `notifyUrl` shows its new `notifySecret`, once",
          params: AgentParams,
          body: UpdateAgentBody,
          response: { 200: z.object({ data: SavedAgent }) },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respondShowingSecretOnce(db, request, reply, principal, 200, "notifySecret", () =>
          bus.request("registry.agents.update", { id: request.params.id, changes: request.body }, busOptions(request, principal)),
        );
      },
    );

    app.delete(
      "/api/agents/:id",
      { schema: { tags: ["agents"], operationId: "deleteAgent", summary: "Delete an agent (soft): it is a 404 everywhere afterwards", params: AgentParams, response: { 204: z.null().describe("Deleted") } } },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => {
          await bus.request("registry.agents.delete", { id: request.params.id }, busOptions(request, principal));
          return { status: 204, body: null };
        });
      },
    );

    app.get(
      "/api/agents/:id/versions",
      {
        schema: {
          tags: ["agents"], operationId: "listAgentVersions",
          summary: "An agent's immutable versions, newest first",
          params: AgentParams,
          querystring: PageQuery,
          response: { 200: z.object({ data: z.array(AgentVersion), pagination: Pagination }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("registry.agents.versions", { id: request.params.id, limit: request.query.limit, offset: request.query.offset }, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.post("/api/agents/:id/pause", { schema: { tags: ["agents"], operationId: "pauseAgent", summary: "Pause an active agent: it starts no new executions; running ones finish", params: AgentParams, response: { 200: z.object({ data: Agent }) } } }, async (request, reply) => {
      const principal = await auth.authenticate(request);
      await respond(db, request, reply, principal, async () => ({ status: 200, body: { data: await bus.request("registry.agents.pause", { id: request.params.id }, busOptions(request, principal)) } }));
    });

    app.post("/api/agents/:id/activate", { schema: { tags: ["agents"], operationId: "activateAgent", summary: "Activate an agent so it can run", params: AgentParams, response: { 200: z.object({ data: Agent }) } } }, async (request, reply) => {
      const principal = await auth.authenticate(request);
      await respond(db, request, reply, principal, async () => ({ status: 200, body: { data: await bus.request("registry.agents.activate", { id: request.params.id }, busOptions(request, principal)) } }));
    });

    app.post(
      "/api/agents/:id/executions",
      { schema: { tags: ["executions"], operationId: "startExecution", summary: "Start an execution; it is queued, readable and cancellable at once", params: AgentParams, body: StartExecutionBody, response: { 202: z.object({ data: Execution }) } } },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        const key = request.headers["idempotency-key"];
        const input = request.body.input ?? null;
        const executionId = typeof key === "string" ? startedExecutionId({ workspaceId: principal.workspaceId, principal: principal.userId, key, agentId: request.params.id, input }) : undefined;
        await respond(db, request, reply, principal, async () => ({
          status: 202,
          body: { data: await bus.request("execution.start", { agentId: request.params.id, input, trigger: { type: "manual" }, executionId }, busOptions(request, principal)) },
        }));
      },
    );
  };
}
