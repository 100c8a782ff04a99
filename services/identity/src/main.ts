import { z } from "zod";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { runBusService } from "@galaxy/runtime";
import { createIdentity, type IdentityService } from "./app";
import { parsePreviousMasterKeys } from "./crypto/secret-box";
import type { IdentityDb } from "./db";

const env = parseEnv(
  CommonEnv.extend({
    IDENTITY_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
    GALAXY_MASTER_KEY: z.string().min(1, "is required (32 bytes, base64); `make up` generates one"),
    GALAXY_MASTER_KEY_PREVIOUS: z.string().optional(),
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
  build: ({ db, bus, logger }) => (identity = createIdentity({ db, bus, logger, masterKey: env.GALAXY_MASTER_KEY, previousMasterKeys: parsePreviousMasterKeys(env.GALAXY_MASTER_KEY_PREVIOUS) })),
});
