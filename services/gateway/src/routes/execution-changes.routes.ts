import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ExecutionChangesQuery } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { ExecutionChanges } from "./execution-changes";
import type { RouteDeps } from "./deps";

/** The longest one workspace stream lives; the client reconnects (and its credential is checked again). */
export const MAX_EXECUTION_CHANGES_MS = 15 * 60 * 1000;

/** `GET /api/executions/stream`: the workspace's executions changing status, live (docs/api.md, The event stream). */
export function executionChangeRoutes({ bus, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/executions/stream",
      {
        schema: {
          tags: ["executions"], operationId: "streamExecutionChanges",
          summary: "Stream the workspace's execution status changes (text/event-stream)",
          description:
            "First `event: ready` (read the list now: nothing before it is replayed), then one frame per change of an execution of the workspace (or of `agentId`'s), `event:` its type (`execution.queued`, `execution.started`, `execution.completed`, `execution.failed`, `execution.cancelled`), `data:` the `ExecutionChange` JSON: the execution's id, agent, status and, but on `execution.started`, its row without input or output. Frames carry no `id:`: after a reconnect, read the list again. `: keep-alive` comments every 15 s. The stream ends when the access token expires, after 15 minutes at most, or when the client falls 1 MiB behind; reconnect then. Who may list the workspace's executions may stream them.",
          querystring: ExecutionChangesQuery,
          response: { 200: z.string().describe("text/event-stream") },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        const { agentId } = request.query;
        // Answered as JSON before the stream starts: a caller who may not list these executions (403), an agent not of this workspace (404).
        await bus.request("execution.list", { limit: 1, cursor: "", ...(agentId ? { agentId } : {}) }, busOptions(request, principal));
        const tokenExpiresAt = principal.token ? principal.token.exp * 1000 : Number.POSITIVE_INFINITY;
        const stream = new ExecutionChanges({ bus, workspaceId: principal.workspaceId, agentId, endsAt: Math.min(tokenExpiresAt, Date.now() + MAX_EXECUTION_CHANGES_MS) });
        await stream.open();
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
        await stream.run(reply.raw);
      },
    );
  };
}
