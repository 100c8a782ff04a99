import type { FastifyReply, FastifyRequest } from "fastify";
import type { Kysely } from "@galaxy/db";
import { GalaxyError } from "@galaxy/contracts";
import type { Principal } from "../auth/principal";
import type { GatewayDb } from "../db";
import { withIdempotency, type StoredResponse } from "../idempotency/idempotency";

/** What one answer shows that its idempotency record must not keep (a secret shown once). */
export interface RespondOptions {
  /** Adds it to the fresh answer only; `execute` returns the answer without it, which is what is stored and replayed. */
  reveal?: (response: StoredResponse) => StoredResponse;
}

/**
 * Sends what `execute` produces; for POST, PATCH and DELETE with an `Idempotency-Key`, the
 * first response is stored and replayed for repeats (docs/api.md).
 */
export async function respond(
  db: Kysely<GatewayDb>,
  request: FastifyRequest,
  reply: FastifyReply,
  principal: Principal | undefined,
  execute: () => Promise<StoredResponse>,
  options: RespondOptions = {},
): Promise<void> {
  const reveal = options.reveal ?? ((response: StoredResponse) => response);
  const key = request.headers["idempotency-key"];
  if (typeof key !== "string" || !["POST", "PATCH", "DELETE", "PUT"].includes(request.method)) {
    const result = await execute();
    send(reply, reveal(result));
    return;
  }
  const result = await withIdempotency(
    db,
    { workspaceId: principal?.workspaceId, principal: principal?.userId, key, method: request.method, path: (request.url.split("?")[0] ?? request.url).toLowerCase(), body: request.body },
    async () => {
      try {
        return await execute();
      } catch (error) {
        // A refusal is the answer to this request and is replayed like a success; a 5xx is not,
        // nor a 429 (a quota or limit that passes: the same key must be able to try again).
        if (error instanceof GalaxyError && error.status < 500 && error.status !== 429) return { status: error.status, body: error.toBody() };
        throw error;
      }
    },
    (error, message) => request.log.warn({ err: error }, message),
  );
  if (result.replayed) reply.header("idempotent-replayed", "true");
  send(reply, result.replayed ? result : reveal({ status: result.status, body: result.body }));
}

function send(reply: FastifyReply, result: StoredResponse): void {
  if (result.status === 204) reply.status(204).send();
  else reply.status(result.status).send(result.body);
}

/**
 * `respond` for an answer `{data}` that shows a secret once (`field`: a trigger's `secret`, an
 * agent's `notifySecret`): the idempotency record keeps the answer without it (the gateway never
 * stores a secret, docs/decisions/0008), so a replay answers without it.
 */
export async function respondShowingSecretOnce<T extends object>(
  db: Kysely<GatewayDb>,
  request: FastifyRequest,
  reply: FastifyReply,
  principal: Principal | undefined,
  status: number,
  field: keyof T & string,
  execute: () => Promise<T>,
): Promise<void> {
  let shown: { data: object; secret: unknown } | undefined;
  await respond(
    db,
    request,
    reply,
    principal,
    async () => {
      const { [field]: secret, ...data } = (await execute()) as Record<string, unknown>;
      shown = { data, secret };
      return { status, body: { data } };
    },
    { reveal: (response) => (shown?.secret === undefined ? response : { status: response.status, body: { data: { ...shown.data, [field]: shown.secret } } }) },
  );
}

/** Sends JSON already written (a kept answer): Fastify passes a string with a JSON type through unchanged. */
export function sendJson(reply: FastifyReply, json: string): FastifyReply {
  return reply.type("application/json; charset=utf-8").send(json);
}
