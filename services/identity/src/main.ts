import { z } from "zod";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { runBusService } from "@galaxy/runtime";
import { createIdentity, type IdentityService } from "./app";
import { parsePreviousMasterKeys } from "@galaxy/secrets";
import type { IdentityDb } from "./db";
import { oidcConfigFromEnv } from "./oidc/oidc.verifier";

const env = parseEnv(
  CommonEnv.extend({
    IDENTITY_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
    GALAXY_MASTER_KEY: z.string().min(1, "is required (32 bytes, base64); `make up` generates one"),
    GALAXY_MASTER_KEY_PREVIOUS: z.string().optional(),
    // A rotated-in signing key is published this long before it signs: at least the JWKS cache time (60 s).
    KEY_ACTIVATION_DELAY_MS: z.coerce.number().int().min(0).default(60_000),
    // Empty is the same as unset (docker-compose passes unset variables as "").
    OIDC_ISSUER: z.string().optional(),
    OIDC_JWKS_URL: z.url().or(z.literal("")).optional(),
    OIDC_AUDIENCE: z.string().optional(),
  }),
);

let identity: IdentityService | undefined;
function started(): IdentityService {
  if (!identity) throw new Error("identity is not started");
  return identity;
}

await runBusService<IdentityDb>({
  service: "identity",
  env,
  opsPort: env.IDENTITY_PORT,
  // Identity verifies claims and issues its own service claims with its own keys, rather
  // than asking itself over the bus.
  bus: {
    loadJwks: async () => started().keys.publicJwks(),
    issueServiceClaim: (workspaceId) => started().auth.issueServiceClaim(workspaceId, "identity"),
  },
  build: ({ db, bus, logger }) => (identity = createIdentity({ db, bus, logger, masterKey: env.GALAXY_MASTER_KEY, previousMasterKeys: parsePreviousMasterKeys(env.GALAXY_MASTER_KEY_PREVIOUS), keyActivationDelayMs: env.KEY_ACTIVATION_DELAY_MS, oidc: oidcConfigFromEnv(env) })),
});
