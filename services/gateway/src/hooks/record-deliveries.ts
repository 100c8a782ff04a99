import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { Uuid } from "@galaxy/contracts";
import type { DeliveryLog } from "./delivery-log";

const Params = z.object({ triggerId: Uuid });
const Accepted = z.object({ data: z.object({ executionId: Uuid }) });
const Refused = z.object({ code: z.string().max(100) });

/** Whether an answer is kept in the trigger's log: an acceptance, or a refusal of the delivery itself (an unknown trigger has no log). */
function recorded(status: number): boolean {
  return status === 202 || (status >= 400 && status < 500 && status !== 404) || status === 503;
}

function jsonOf(payload: unknown): unknown {
  const text = typeof payload === "string" ? payload : Buffer.isBuffer(payload) ? payload.toString("utf8") : null;
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Every answer to a delivery of `app` (the `/hooks/{triggerId}` plugin) goes to its trigger's
 * log once it is decided, whichever check answered it: the signature, the timestamp, the body's
 * size or media type, the agent's status, the rate limit. It is read from the answer itself, so
 * the route's checks stay as they are. Nothing here is awaited by the answer.
 */
export function recordDeliveries(app: FastifyInstance, log: DeliveryLog, workspaceOf: (triggerId: string) => Promise<string>): void {
  app.addHook("onSend", async (request, reply, payload) => {
    const params = Params.safeParse(request.params);
    const status = reply.statusCode;
    if (!params.success || !recorded(status)) return payload;
    const { triggerId } = params.data;
    const body = jsonOf(payload);
    const accepted = status === 202 ? Accepted.safeParse(body) : undefined;
    const refused = Refused.safeParse(body);
    const header = request.headers["webhook-id"];
    const webhookId = (Array.isArray(header) ? header[0] : header) ?? null;
    workspaceOf(triggerId)
      .then((workspaceId) =>
        log.record(workspaceId, triggerId, {
          webhookId,
          httpStatus: status,
          code: accepted?.success ? null : refused.success ? refused.data.code : null,
          executionId: accepted?.success ? accepted.data.data.executionId : null,
        }),
      )
      .catch(() => undefined);
    return payload;
  });
}
