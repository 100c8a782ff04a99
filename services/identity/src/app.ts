import type { Bus } from "@galaxy/bus";
import { isDbReachable, OutboxRelay, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { AuthService } from "./auth/auth.service";
import { SecretBox } from "./crypto/secret-box";
import type { IdentityDb } from "./db";
import { SigningKeys } from "./keys/signing-keys";

export interface IdentityDeps {
  db: Kysely<IdentityDb>;
  bus: Bus;
  logger: Logger;
  /** `GALAXY_MASTER_KEY`: seals signing keys and provider credentials at rest. */
  masterKey: string;
}

export interface IdentityService {
  keys: SigningKeys;
  auth: AuthService;
  start(): Promise<void>;
  stop(): Promise<void>;
  readiness(): Promise<Record<string, boolean>>;
}

/** Builds identity from its dependencies; `main.ts` runs it, tests build it too. */
export function createIdentity(deps: IdentityDeps): IdentityService {
  const { db, bus, logger } = deps;
  const keys = new SigningKeys(db, new SecretBox(deps.masterKey));
  const relay = new OutboxRelay({ db, publish: (row) => bus.publishEvent(row), logger });
  const auth = new AuthService({ db, keys, relay });

  return {
    keys,
    auth,
    async start() {
      await keys.load();
      bus.serve("identity.jwks", async () => keys.publicJwks());
      bus.serve("identity.auth.signup", (body, ctx) => auth.signup(body, ctx));
      bus.serve("identity.auth.login", (body) => auth.login(body));
      bus.serve("identity.claims.issue", (body) => auth.issueClaim(body.accessToken));
      bus.serve("identity.claims.service", (body) => auth.issueServiceClaim(body.workspaceId, body.service));
      bus.serve("identity.me", (_body, ctx) => auth.me(requireClaim(ctx.claim)));
      relay.start();
      await relay.sweep(0);
    },
    async stop() {
      await relay.stop();
    },
    async readiness() {
      return { database: await isDbReachable(db), bus: bus.isConnected() };
    },
  };
}

function requireClaim<T>(claim: T | null): T {
  if (!claim) throw new Error("the bus let a request without a claim through");
  return claim;
}
