import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { Agent, AgentListQuery, CreateAgentBody, Execution, PageQuery, Pagination, StartExecutionBody, Uuid } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { respond } from "../http/respond";
import type { RouteDeps } from "./deps";

const AgentParams = z.object({ id: Uuid });

/** Agents: create, list, read, activate, and start executions of them. */
export function agentRoutes({ bus, db, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post("/api/agents", { schema: { tags: ["agents"], summary: "Create an agent (draft, version 1)", body: CreateAgentBody, response: { 201: z.object({ data: Agent }) } } }, async (request, reply) => {
      const principal = await auth.authenticate(request);
      await respond(db, request, reply, principal, async () => ({ status: 201, body: { data: await bus.request("registry.agents.create", request.body, busOptions(request, principal)) } }));
    });

    app.get(
      "/api/agents",
      { schema: { tags: ["agents"], summary: "List the workspace's agents", querystring: PageQuery.extend(AgentListQuery.shape), response: { 200: z.object({ data: z.array(Agent), pagination: Pagination }) } } },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("registry.agents.list", request.query, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.get("/api/agents/:id", { schema: { tags: ["agents"], summary: "Read an agent", params: AgentParams, response: { 200: z.object({ data: Agent }) } } }, async (request) => {
      const principal = await auth.authenticate(request);
      return { data: await bus.request("registry.agents.get", { id: request.params.id }, busOptions(request, principal)) };
    });

    app.post("/api/agents/:id/activate", { schema: { tags: ["agents"], summary: "Activate an agent so it can run", params: AgentParams, response: { 200: z.object({ data: Agent }) } } }, async (request, reply) => {
      const principal = await auth.authenticate(request);
      await respond(db, request, reply, principal, async () => ({ status: 200, body: { data: await bus.request("registry.agents.activate", { id: request.params.id }, busOptions(request, principal)) } }));
    });

    app.post(
      "/api/agents/:id/executions",
      { schema: { tags: ["executions"], summary: "Start an execution; it is queued, readable and cancellable at once", params: AgentParams, body: StartExecutionBody, response: { 202: z.object({ data: Execution }) } } },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => ({
          status: 202,
          body: { data: await bus.request("execution.start", { agentId: request.params.id, input: request.body.input ?? null, trigger: { type: "manual" } }, busOptions(request, principal)) },
        }));
      },
    );
  };
}
