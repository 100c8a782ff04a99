import { createHash } from "node:crypto";
import { ConflictError, SYSTEM_WORKSPACE_ID, ValidationError } from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import type { GatewayDb } from "../db";

/** How long a response is kept for its key (docs/api.md: 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

/**
 * A first request still "in progress" after this long died with its gateway: a retry takes
 * its place rather than being refused for a day. Longer than any request may take.
 */
export const IN_PROGRESS_TIMEOUT_MS = 60_000;

export interface StoredResponse {
  status: number;
  body: unknown;
}

export interface IdempotencyScope {
  /** The caller's workspace; anonymous calls (sign-up, login) use the system workspace. */
  workspaceId: string | undefined;
  /** The caller (user or key); anonymous calls share one scope, guarded by the body hash. */
  principal: string | undefined;
  key: string;
  method: string;
  path: string;
  body: unknown;
}

/**
 * Runs `execute` at most once per idempotency key: the first response (below 500) is kept for
 * 24 h and returned again for the same key and body; the same key with another body, or while
 * the first is still running, is a 409.
 */
export async function withIdempotency(
  db: Kysely<GatewayDb>,
  scope: IdempotencyScope,
  execute: () => Promise<StoredResponse>,
  warn: (error: unknown, message: string) => void = () => undefined,
): Promise<StoredResponse & { replayed: boolean }> {
  if (scope.key.length === 0 || scope.key.length > 255) throw new ValidationError("Idempotency-Key must be 1 to 255 characters", { "headers.idempotency-key": "must be 1 to 255 characters" });
  const workspaceId = scope.workspaceId ?? SYSTEM_WORKSPACE_ID;
  const principal = scope.principal ?? "anonymous";
  const requestHash = createHash("sha256").update(`${scope.method} ${scope.path}\n${JSON.stringify(scope.body ?? null)}`).digest("hex");

  const existing = await inWorkspace(db, workspaceId, async (tx) => {
    await tx.deleteFrom("idempotency_keys").where("workspace_id", "=", workspaceId).where("principal", "=", principal).where("key", "=", scope.key).where("expires_at", "<", new Date()).execute();
    const inserted = await tx
      .insertInto("idempotency_keys")
      .values({ workspace_id: workspaceId, principal, key: scope.key, method: scope.method, path: scope.path, request_hash: requestHash, status: null, response: null, expires_at: new Date(Date.now() + IDEMPOTENCY_TTL_MS) })
      .onConflict((oc) => oc.doNothing())
      .returning("key")
      .executeTakeFirst();
    if (inserted) return null;
    const row = await tx
      .selectFrom("idempotency_keys")
      .select(["request_hash", "status", "response", "created_at"])
      .where("workspace_id", "=", workspaceId)
      .where("principal", "=", principal)
      .where("key", "=", scope.key)
      .forUpdate()
      .executeTakeFirst();
    if (row && row.status === null && row.request_hash === requestHash && row.created_at.getTime() < Date.now() - IN_PROGRESS_TIMEOUT_MS) {
      await tx.updateTable("idempotency_keys").set({ created_at: new Date() }).where("workspace_id", "=", workspaceId).where("principal", "=", principal).where("key", "=", scope.key).execute();
      return null;
    }
    return row;
  });

  if (existing) {
    if (existing.request_hash !== requestHash) throw new ConflictError("idempotency_key_reused", "This Idempotency-Key was used with another request");
    if (existing.status === null) throw new ConflictError("idempotency_in_progress", "A request with this Idempotency-Key is still being processed; retry shortly");
    return { status: existing.status, body: existing.response, replayed: true };
  }

  // From here on the request has run (or failed) whatever happens to the store: a store that
  // fails now never hides the answer. Its key stays "in progress" until IN_PROGRESS_TIMEOUT_MS.
  let response: StoredResponse;
  try {
    response = await execute();
  } catch (error) {
    await forget(db, workspaceId, principal, scope.key).catch((storeError: unknown) => warn(storeError, "could not release the idempotency key"));
    throw error;
  }
  if (response.status >= 500) {
    await forget(db, workspaceId, principal, scope.key).catch((storeError: unknown) => warn(storeError, "could not release the idempotency key"));
  } else {
    await inWorkspace(db, workspaceId, (tx) =>
      tx.updateTable("idempotency_keys").set({ status: response.status, response: JSON.stringify(response.body) }).where("workspace_id", "=", workspaceId).where("principal", "=", principal).where("key", "=", scope.key).execute(),
    ).catch((storeError: unknown) => warn(storeError, "could not keep the response for its idempotency key"));
  }
  return { ...response, replayed: false };
}

async function forget(db: Kysely<GatewayDb>, workspaceId: string, principal: string, key: string): Promise<void> {
  await inWorkspace(db, workspaceId, (tx) => tx.deleteFrom("idempotency_keys").where("workspace_id", "=", workspaceId).where("principal", "=", principal).where("key", "=", key).execute());
}
