import { z } from "zod";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { runBusService } from "@galaxy/runtime";
import { createAudit } from "./app";
import type { AuditDb } from "./db";

const env = parseEnv(
  CommonEnv.extend({
    AUDIT_PORT: z.coerce.number().int().min(0).max(65535).default(8084),
    // Where retention writes the entries it removes (docs/audit-chain.md, Retention).
    AUDIT_EXPORT_DIR: z.string().min(1).default("var/audit-exports"),
  }),
);

await runBusService<AuditDb>({
  service: "audit",
  env,
  opsPort: env.AUDIT_PORT,
  build: ({ db, bus, logger }) => createAudit({ db, bus, logger, exportDir: env.AUDIT_EXPORT_DIR }),
});
