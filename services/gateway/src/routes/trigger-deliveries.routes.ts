import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import {
  cursorPage, CursorPageQuery, decodeCursor, encodeCursor, NotFoundError, pagination, Pagination, TriggerDelivery, Uuid, type ExecutionStatus,
} from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { DeliveryLog, type StoredDelivery } from "../hooks/delivery-log";
import type { RouteDeps } from "./deps";

const LIST = "trigger-deliveries";
const CursorKey = z.number().int().min(1);

/**
 * `GET /api/triggers/{id}/deliveries`: a webhook trigger's recent deliveries, accepted and
 * refused, newest first (docs/webhooks.md, Deliveries). They are read from the trigger's log
 * in Redis under the caller's workspace; each accepted one carries its execution's status now.
 */
export function triggerDeliveryRoutes({ bus, auth }: RouteDeps, options: { redis: Redis }): FastifyPluginAsyncZod {
  return async (app) => {
    const log = new DeliveryLog(options.redis, app.log);
    app.get(
      "/api/triggers/:id/deliveries",
      {
        schema: {
          tags: ["triggers"], operationId: "listTriggerDeliveries",
          summary: "A webhook trigger's recent deliveries, newest first: accepted ones with their execution, refused ones with why",
          description:
            "The newest 200 deliveries of the trigger over the last 7 days after its latest one, whatever the gateway answered: 202 (`outcome: accepted`, with `executionId` and that execution's status, null until the worker has created it) or a refusal (`outcome: refused`, with the answer's status and `code`: a bad signature, a stale timestamp, a body too large, not JSON or failing the agent's inputSchema, the agent not active, the rate limit). An unknown trigger's deliveries are not kept. A schedule trigger has none (404).",
          params: z.object({ id: Uuid }),
          querystring: CursorPageQuery,
          response: { 200: z.object({ data: z.array(TriggerDelivery), pagination: Pagination }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        const triggerId = request.params.id;
        const trigger = await bus.request("registry.triggers.resolve", { triggerId }, busOptions(request));
        if (trigger.workspaceId !== principal.workspaceId) throw new NotFoundError("trigger", triggerId, "trigger_not_found");
        const { limit, offset, cursor } = request.query;
        let rows: StoredDelivery[];
        let page: Pagination;
        if (cursor === undefined) {
          const read = await log.page(principal.workspaceId, triggerId, offset, limit);
          const last = read.rows.at(-1);
          const counted = pagination(read.total, request.query);
          rows = read.rows;
          page = { ...counted, nextCursor: counted.hasMore && last ? encodeCursor(LIST, { triggerId }, last.s) : null };
        } else {
          const before = decodeCursor(LIST, { triggerId }, cursor, CursorKey);
          const read = cursorPage(await log.before(principal.workspaceId, triggerId, before, limit), limit, (last) => encodeCursor(LIST, { triggerId }, last.s));
          rows = read.items;
          page = read.pagination;
        }
        const ids = [...new Set(rows.flatMap((row) => (row.e ? [row.e] : [])))];
        const found = ids.length === 0 ? [] : (await bus.request("execution.statuses", { ids }, busOptions(request, principal))).statuses;
        const statuses = new Map(found.map((s) => [s.id, s.status]));
        return { data: rows.map((row) => deliveryOf(row, statuses)), pagination: page };
      },
    );
  };
}

/** The status of each accepted delivery's execution; one the worker has not created yet has none. */
function deliveryOf(row: StoredDelivery, statuses: Map<string, ExecutionStatus>): TriggerDelivery {
  return {
    seq: row.s,
    receivedAt: new Date(row.t).toISOString(),
    webhookId: row.w,
    outcome: row.h === 202 ? "accepted" : "refused",
    httpStatus: row.h,
    code: row.c,
    executionId: row.e,
    executionStatus: row.e ? (statuses.get(row.e) ?? null) : null,
  };
}
