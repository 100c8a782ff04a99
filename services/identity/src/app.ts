import type { Bus } from "@galaxy/bus";
import { ForbiddenError } from "@galaxy/contracts";
import { isDbReachable, OutboxRelay, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { serveApiKeys } from "./api-keys/api-keys.handlers";
import { ApiKeysService } from "./api-keys/api-keys.service";
import { AuthService } from "./auth/auth.service";
import { serveMembers } from "./members/members.handlers";
import { MembersService } from "./members/members.service";
import { serveWorkspaces } from "./workspaces/workspaces.handlers";
import { WorkspacesService } from "./workspaces/workspaces.service";
import { serveCredentials } from "./credentials/credentials.handlers";
import { CredentialsService, resealCredentials } from "./credentials/credentials.service";
import { SecretBox } from "@galaxy/secrets";
import type { IdentityDb } from "./db";
import { SigningKeys } from "./keys/signing-keys";
import { serveOperators } from "./admin/operators";
import { serveOidc } from "./oidc/oidc.handlers";
import { OidcService } from "./oidc/oidc.service";
import { ExternalTokenVerifier, type OidcConfig } from "./oidc/oidc.verifier";

export interface IdentityDeps {
  db: Kysely<IdentityDb>;
  bus: Bus;
  logger: Logger;
  /** `GALAXY_MASTER_KEY`: seals signing keys and provider credentials at rest. */
  masterKey: string;
  /** `GALAXY_MASTER_KEY_PREVIOUS`: retired master keys, so what they sealed still opens. */
  previousMasterKeys?: readonly string[] | undefined;
  /** `KEY_ACTIVATION_DELAY_MS`: how long a rotated-in signing key is published before it signs (default 60 s). */
  keyActivationDelayMs?: number | undefined;
  /** How often an instance promotes due signing keys and re-reads them (default 5 s). */
  keyRefreshIntervalMs?: number | undefined;
  /** `OIDC_ISSUER`, `OIDC_JWKS_URL`, `OIDC_AUDIENCE`: the external issuer whose tokens exchange for Galaxy tokens; unset, none. */
  oidc?: OidcConfig | undefined;
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
  const box = new SecretBox(deps.masterKey, deps.previousMasterKeys);
  const keys = new SigningKeys(db, box, deps.keyActivationDelayMs === undefined ? {} : { activationDelayMs: deps.keyActivationDelayMs });
  const relay = new OutboxRelay({ db, publish: (row) => bus.publishEvent(row), logger, metrics: bus.registry });
  const auth = new AuthService({ db, keys, relay });
  const members = new MembersService({ db, relay });
  const workspaces = new WorkspacesService({ db, keys, relay });
  const credentials = new CredentialsService({ db, box, relay });
  const apiKeys = new ApiKeysService({ db, keys, relay });
  const oidc = new OidcService({ db, keys, relay, verifier: deps.oidc ? new ExternalTokenVerifier(deps.oidc) : undefined });

  return {
    keys,
    auth,
    async start() {
      await keys.load();
      // Read from the database on each ask (rare: verifiers cache it), so no instance hands out a revoked key.
      bus.serve("identity.jwks", () => keys.freshJwks());
      bus.serve("identity.auth.signup", (body, ctx) => auth.signup(body, ctx));
      bus.serve("identity.auth.login", (body) => auth.login(body));
      bus.serve("identity.claims.issue", (body) => auth.issueClaim(body.accessToken));
      bus.serve("identity.claims.service", async (body, ctx) => {
        // A service speaks for itself only: its NATS user, where the server has users, must be
        // the service it asks a claim for (the execution-worker's claim resolves credentials).
        if (ctx.requester !== undefined && ctx.requester !== body.service) throw new ForbiddenError(`${ctx.requester} may not ask for a claim of ${body.service}`, "service_mismatch");
        return auth.issueServiceClaim(body.workspaceId, body.service);
      });
      bus.serve("identity.me", (_body, ctx) => auth.me(requireClaim(ctx.claim)));
      bus.serve("identity.auth.switch", (body, ctx) => auth.switchWorkspace(requireClaim(ctx.claim), body));
      serveMembers(bus, members);
      serveWorkspaces(bus, workspaces);
      serveCredentials(bus, credentials);
      serveApiKeys(bus, apiKeys);
      serveOperators({ db, bus, keys, auth, relay, logger, keyRefreshIntervalMs: deps.keyRefreshIntervalMs });
      serveOidc(bus, oidc);
      relay.start();
      await relay.sweep(0);
      // After a master-key rotation; in the background, so a large table does not hold up readiness.
      void resealCredentials({ db, box })
        .then(({ resealed, failed }) => {
          if (resealed > 0) logger.info({ resealed }, "provider credentials sealed again under the current master key");
          if (failed > 0) logger.warn({ failed }, "provider credentials that no configured master key opens; see docs/security.md, Rotating the master key");
        })
        .catch((error: unknown) => logger.warn({ err: error }, "sealing provider credentials again failed; they still open with the previous key"));
    },
    async stop() {
      keys.stopWatching();
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
