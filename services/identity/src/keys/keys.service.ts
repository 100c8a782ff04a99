import type { RequestContext } from "@galaxy/bus";
import { SYSTEM_WORKSPACE_ID, type RevokeSigningKeyRequest, type RotateSigningKeyRequest, type SigningKeyInfo, type SigningKeyList, type SigningKeyRotation } from "@galaxy/contracts";
import { appendEvent, inWorkspace, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import { OPERATOR_ACTOR, operatorEventContext } from "../admin/operator-context";
import type { IdentityDb } from "../db";
import { SigningKeyActiveError, SigningKeyNotFoundError } from "../errors";
import { lockKeys, type SigningKeys } from "./signing-keys";

export interface KeysServiceDeps {
  db: Kysely<IdentityDb>;
  keys: SigningKeys;
  relay: OutboxRelay;
  /** Called after this instance changed its keys, e.g. to drop the claims its own bus verified. */
  onKeysChanged: () => void;
}

/** Operator key management: `galaxy keys list | rotate | revoke` (docs/bus.md, Keys). */
export class KeysService {
  constructor(private readonly deps: KeysServiceDeps) {}

  async list(): Promise<SigningKeyList> {
    return { keys: await this.deps.keys.list() };
  }

  /**
   * Adds a key that is published at once and signs after the activation delay (at once with
   * `now`); the active key then retires and keeps verifying. Records `signing_key.rotated`.
   */
  async rotate(body: RotateSigningKeyRequest, ctx: RequestContext): Promise<SigningKeyRotation> {
    const { db, keys, relay } = this.deps;
    const context = await operatorEventContext(keys, ctx);
    let events: OutboxRow[] = [];
    const rotation = await inWorkspace(db, SYSTEM_WORKSPACE_ID, async (tx) => {
      events = [];
      await lockKeys(tx);
      const result = await keys.addPending(tx, body.now);
      const activatesAt = result.key.activatesAt ?? new Date().toISOString();
      events.push(
        await appendEvent(tx, {
          type: "signing_key.rotated",
          workspaceId: SYSTEM_WORKSPACE_ID,
          actor: OPERATOR_ACTOR,
          context,
          data: { kid: result.key.kid, previousKid: result.previousKid, activatesAt },
        }),
      );
      return result;
    });
    await keys.refresh();
    this.deps.onKeysChanged();
    relay.publishNow(events);
    ctx.logger.info({ kid: rotation.key.kid, previousKid: rotation.previousKid, status: rotation.key.status }, "signing key rotated");
    return rotation;
  }

  /**
   * Removes a key from the JWKS for good and records `signing_key.revoked`, on which every
   * verifier drops its cached keys. Revoking a revoked key changes nothing.
   *
   * @throws {SigningKeyNotFoundError} no such kid
   * @throws {SigningKeyActiveError} it is the key that signs now
   */
  async revoke(body: RevokeSigningKeyRequest, ctx: RequestContext): Promise<SigningKeyInfo> {
    const { db, keys, relay } = this.deps;
    const context = await operatorEventContext(keys, ctx);
    let events: OutboxRow[] = [];
    const revoked = await inWorkspace(db, SYSTEM_WORKSPACE_ID, async (tx) => {
      events = [];
      await lockKeys(tx);
      const key = await keys.find(tx, body.kid);
      if (!key) throw new SigningKeyNotFoundError(body.kid);
      if (key.status === "revoked") return key;
      if (key.status === "active") throw new SigningKeyActiveError(key.kid);
      const result = await keys.markRevoked(tx, key.kid);
      events.push(await appendEvent(tx, { type: "signing_key.revoked", workspaceId: SYSTEM_WORKSPACE_ID, actor: OPERATOR_ACTOR, context, data: { kid: key.kid } }));
      return result;
    });
    // This instance stops publishing the key before anyone hears of the revocation.
    await keys.refresh();
    this.deps.onKeysChanged();
    relay.publishNow(events);
    ctx.logger.warn({ kid: revoked.kid }, "signing key revoked");
    return revoked;
  }
}
