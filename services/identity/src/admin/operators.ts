import type { Bus } from "@galaxy/bus";
import type { Kysely, OutboxRelay } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import type { AuthService } from "../auth/auth.service";
import type { IdentityDb } from "../db";
import { serveKeys } from "../keys/keys.handlers";
import { KeysService } from "../keys/keys.service";
import type { SigningKeys } from "../keys/signing-keys";
import { serveAdmin } from "./admin.handlers";
import { AdminService } from "./admin.service";

export interface OperatorDeps {
  db: Kysely<IdentityDb>;
  bus: Bus;
  keys: SigningKeys;
  auth: AuthService;
  relay: OutboxRelay;
  logger: Logger;
  /** How often this instance promotes due keys and re-reads them (default 5 s). */
  keyRefreshIntervalMs?: number | undefined;
}

/**
 * Identity's operator side: the system-admin grant and operator claims, key rotation and
 * revocation, and keeping this instance's keys current when another instance changes them.
 */
export function serveOperators(deps: OperatorDeps): void {
  const { db, bus, keys, auth, relay, logger } = deps;
  // Whatever this instance's bus verified with a key that changed is forgotten; its loader
  // (identity's own keys) then answers with what was just re-read.
  const keysChanged = () => bus.claims.reset();
  serveAdmin(bus, new AdminService({ db, keys, auth, relay }));
  serveKeys(bus, new KeysService({ db, keys, relay, onKeysChanged: keysChanged }));
  // Another instance rotated or revoked: re-read at once rather than at the next tick. A forged
  // event can only make this instance read its keys again.
  bus.subscribeCore("evt.*.signing_key.>", () => {
    void keys
      .refresh()
      .then(keysChanged)
      .catch((error: unknown) => logger.warn({ err: error }, "re-reading signing keys failed"));
  });
  keys.watch(deps.keyRefreshIntervalMs ?? 5_000, (error) => logger.warn({ err: error }, "promoting or re-reading signing keys failed"));
}
