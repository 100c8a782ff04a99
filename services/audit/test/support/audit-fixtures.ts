import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";
import { createDb } from "@galaxy/db";
import { connectTestBus, serviceDb, testLogger } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { createAudit, type AuditService } from "../../src/app";
import type { AuditDb } from "../../src/db";

export interface AuditTestOptions {
  /** Runs on the service before it starts consuming (a test wraps what it applies, say). */
  beforeStart?: (audit: AuditService) => void;
}

/**
 * The audit service running against the file's own database and bus, set up once per file:
 * - `db`: audit's own login-role connection; `admin`: the bootstrap (superuser) one, which sees
 *   every workspace and may alter what it likes;
 * - `exportDir`: a directory of the file's own that retention exports to, removed after the last test;
 * - `audit`: the running service, on `auditBus`;
 * - `publisher`: the agent registry's bus, which publishes events; `gatewayBus`: the gateway's, which
 *   makes requests;
 * - `asOperator`: request options carrying an operator's claim of the system workspace (the CLI's).
 */
export function auditTest(options: AuditTestOptions = {}) {
  return engineTest
    .extend("db", { scope: "file" }, async ({ env }, { onCleanup }) => {
      const db = serviceDb<AuditDb>(env, "audit");
      onCleanup(() => db.destroy());
      return db;
    })
    .extend("admin", { scope: "file" }, async ({ env }, { onCleanup }) => {
      const admin = createDb<AuditDb>({ connectionString: env.databaseUrl, schema: "audit", max: 2 });
      onCleanup(() => admin.destroy());
      return admin;
    })
    .extend("auditBus", { scope: "file" }, async ({ env }, { onCleanup }) => {
      const bus = await connectTestBus(env, "audit");
      onCleanup(() => bus.close());
      return bus;
    })
    .extend("exportDir", { scope: "file" }, async ({}, { onCleanup }) => {
      const dir = await mkdtemp(join(tmpdir(), "galaxy-audit-exports-"));
      onCleanup(() => rm(dir, { recursive: true, force: true }));
      return dir;
    })
    .extend("audit", { scope: "file" }, async ({ claims, db, auditBus, exportDir }, { onCleanup }) => {
      // The claims' keys are served before the service starts checking events against them.
      void claims;
      const audit = createAudit({ db, bus: auditBus, logger: testLogger("audit"), retryBackoffMs: 50, exportDir });
      options.beforeStart?.(audit);
      await audit.start();
      onCleanup(async () => {
        await auditBus.stopIntake();
        await audit.stop();
      });
      return audit;
    })
    .extend("publisher", { scope: "file" }, async ({ env, audit }, { onCleanup }) => {
      // Events are published once the service consumes them.
      void audit;
      const bus = await connectTestBus(env, "agent-registry");
      onCleanup(() => bus.close());
      return bus;
    })
    .extend("gatewayBus", { scope: "file" }, async ({ env, audit }, { onCleanup }) => {
      void audit;
      const bus = await connectTestBus(env, "gateway");
      onCleanup(() => bus.close());
      return bus;
    })
    .extend("asOperator", { scope: "file" }, async ({ claims }) => {
      const claim = await claims.sign({ ws: SYSTEM_WORKSPACE_ID, sub: "galaxy-cli", act: "operator", role: "admin" });
      return () => ({ claim, workspaceId: SYSTEM_WORKSPACE_ID });
    });
}
