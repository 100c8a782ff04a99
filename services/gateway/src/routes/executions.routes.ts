import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { CursorPageQuery, Execution, ExecutionListQuery, Pagination, Uuid, ValidationError } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { respond, sendJson } from "../http/respond";
import { ExecutionStream } from "./execution-stream";
import type { FinishedExecutions } from "./finished-executions";
import type { RouteDeps } from "./deps";

const ExecutionParams = z.object({ id: Uuid });

/** `Last-Event-ID`: the seq of the last event the client has (a non-negative integer). */
function lastEventId(header: string | string[] | undefined): number {
  if (header === undefined) return 0;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === "") return 0;
  if (!/^\d{1,9}$/.test(value.trim())) throw new ValidationError("Last-Event-ID must be the seq of an event of this execution", { "headers.last-event-id": "must be a non-negative integer" });
  return Number(value.trim());
}

/** Executions: read, list, cancel, and stream their events (the audit log is in audit.routes.ts). */
export function executionRoutes({ bus, db, auth }: RouteDeps, finished: FinishedExecutions): FastifyPluginAsyncZod {
  return async (app) => {
    app.get("/api/executions/:id", { schema: { tags: ["executions"], operationId: "getExecution", summary: "Read an execution", params: ExecutionParams, response: { 200: z.object({ data: Execution }) } } }, async (request, reply) => {
      const principal = await auth.authenticate(request);
      const id = request.params.id.toLowerCase();
      // A finished execution read before is answered from memory, after the check the worker makes (finished-executions.ts).
      const known = await finished.answer(principal.claim, principal.workspaceId, id);
      if (known !== undefined) return sendJson(reply, known);
      const execution = await bus.request("execution.get", { id }, busOptions(request, principal));
      return sendJson(reply, finished.answerFromWorker(principal.workspaceId, execution));
    });

    app.get(
      "/api/executions",
      {
        schema: {
          tags: ["executions"], operationId: "listExecutions",
          summary: "List the workspace's executions, newest first, by status, agent, trigger type and creation time",
          querystring: CursorPageQuery.extend(ExecutionListQuery.shape),
          response: { 200: z.object({ data: z.array(Execution), pagination: Pagination }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("execution.list", request.query, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.get(
      "/api/agents/:id/executions",
      {
        schema: {
          tags: ["executions"], operationId: "listAgentExecutions",
          summary: "List an agent's executions, newest first",
          params: ExecutionParams,
          querystring: CursorPageQuery.extend(ExecutionListQuery.omit({ agentId: true }).shape),
          response: { 200: z.object({ data: z.array(Execution), pagination: Pagination }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        // The agent must be one of the caller's workspace: another workspace's is a 404 (and reported), not an empty list.
        await bus.request("registry.agents.get", { id: request.params.id }, busOptions(request, principal));
        const page = await bus.request("execution.list", { ...request.query, agentId: request.params.id }, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.post(
      "/api/executions/:id/cancel",
      {
        schema: {
          tags: ["executions"], operationId: "cancelExecution",
          summary: "Cancel an execution: a queued one ends `cancelled` at once, a running one within moments; an ended one is a 409",
          params: ExecutionParams,
          response: { 202: z.object({ data: Execution }) },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => ({ status: 202, body: { data: await bus.request("execution.cancel", { id: request.params.id }, busOptions(request, principal)) } }));
      },
    );

    app.get(
      "/api/executions/:id/events",
      {
        schema: {
          tags: ["executions"], operationId: "streamExecutionEvents",
          summary: "Stream an execution's events (text/event-stream)",
          description:
            "The execution's stored events in order, then live ones, until its terminal event. `id:` is the event's seq within the execution (send it back as `Last-Event-ID` to resume), `event:` its type, `data:` the event JSON. `execution.delta` frames (token deltas) carry no `id:` and are not stored. Comments (`: keep-alive`) keep idle connections open.",
          params: ExecutionParams,
          response: { 200: z.string().describe("text/event-stream") },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        const afterSeq = lastEventId(request.headers["last-event-id"]);
        const stream = new ExecutionStream({
          bus,
          workspaceId: principal.workspaceId,
          executionId: request.params.id,
          afterSeq,
          requestOptions: busOptions(request, principal),
          logger: request.log,
        });
        // A 404 or 403 is answered as JSON, before the stream starts.
        const first = await stream.open();
        reply.hijack();
        const headers: Record<string, string> = {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache, no-transform",
          connection: "keep-alive",
          "x-accel-buffering": "no",
        };
        for (const name of ["x-request-id", "traceparent"]) {
          const value = reply.getHeader(name);
          if (typeof value === "string") headers[name] = value;
        }
        reply.raw.writeHead(200, headers);
        await stream.run(reply.raw, first);
      },
    );
  };
}
