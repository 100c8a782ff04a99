import { describe, expect } from "vitest";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Bus } from "@galaxy/bus";
import { DeadLetter, ReplayRun, SYSTEM_WORKSPACE_ID, type Agent } from "@galaxy/contracts";
import { createDb, type Kysely } from "@galaxy/db";
import { connectTestBus, serviceDb, testLogger } from "@galaxy/testkit";
import { cliTest } from "../test/fixtures";
import { createAudit, type AuditDb, type AuditService } from "@galaxy/audit";
import { EXIT } from "./program";

/**
 * `galaxy replay`, `galaxy replays`, `galaxy dlq` and `galaxy audit verify` against real
 * identity (the CLI's operator claim) and audit (which runs replays and keeps dead letters).
 */

/**
 * The file's fixtures, each set up once per file, all before its first test:
 * - `env`, `db`, `identity` and `galaxy`: the CLI tests' own (`test/fixtures.ts`);
 * - `audit`: audit running on its login role and a bus of its own, which stops its intake first when stopped;
 * - `admin`: the database's bootstrap connection to the audit schema, which sees every row;
 * - `publisher`: a connection publishing events as agent-registry;
 * - `workspaceId`: a workspace signed up through the gateway, whose sign-up audit has recorded;
 * - `auditRows`: a workspace's audit rows, by sequence.
 */
const test = cliTest
  .extend("audit", { scope: "file" }, async ({ env, identity }, { onCleanup }): Promise<AuditService> => {
    // Audit verifies claims against the keys identity serves: it starts once identity runs.
    void identity;
    const auditDb = serviceDb<AuditDb>(env, "audit");
    const auditBus = await connectTestBus(env, "audit");
    let audit: AuditService | undefined;
    onCleanup(async () => {
      await auditBus.stopIntake();
      await audit?.stop();
      await auditBus.close();
      await auditDb.destroy();
    });
    audit = createAudit({ db: auditDb, bus: auditBus, logger: testLogger("audit") });
    await audit.start();
    return audit;
  })
  .extend("admin", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<AuditDb>> => {
    const admin = createDb<AuditDb>({ connectionString: env.databaseUrl, schema: "audit", max: 2 });
    onCleanup(() => admin.destroy());
    return admin;
  })
  .extend("publisher", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Bus> => {
    const publisher = await connectTestBus(env, "agent-registry");
    onCleanup(() => publisher.close());
    return publisher;
  })
  .extend("workspaceId", { scope: "file" }, async ({ env, audit, admin }): Promise<string> => {
    // Audit runs before the sign-up it records.
    void audit;
    // A workspace with a few audited events: sign-up records workspace.created and member.added.
    const caller = await connectTestBus(env, "gateway");
    const signup = await caller.request("identity.auth.signup", { email: "cli-ops@example.com", password: "correct horse battery", name: "Ops", workspaceName: "Ops" });
    await caller.close();
    const workspaceId = signup.workspace.id;
    await eventually(async () => (await admin.selectFrom("audit_logs").select("id").where("workspace_id", "=", workspaceId).execute()).length >= 2, "the sign-up in the audit log");
    return workspaceId;
  })
  .extend("auditRows", { scope: "file" }, async ({ admin }) => async (ws: string) =>
    admin.selectFrom("audit_logs").select(["id", "seq", "hash"]).where("workspace_id", "=", ws).orderBy("seq").execute());
test.beforeAll(async ({ workspaceId, publisher }) => {
  void workspaceId;
  void publisher;
});

async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function dataOf<S extends z.ZodType>(schema: S, text: string): z.infer<S> {
  return schema.parse(z.object({ data: z.unknown() }).parse(JSON.parse(text)).data);
}

describe("galaxy replay", () => {
  test("--dry-run prints the counts and changes nothing", async ({ workspaceId, galaxy, auditRows }) => {
    const before = await auditRows(workspaceId);
    const human = await galaxy("replay", "--target", "audit", "--workspace", workspaceId, "--dry-run");
    expect(human.code, human.err).toBe(EXIT.ok);
    expect(human.out).toContain("completed");
    expect(human.out).toContain("dry run: nothing changed");
    expect(human.out).toMatch(new RegExp(`matched ${before.length}, applied 0, skipped ${before.length}, failed 0`));

    const json = await galaxy("--json", "replay", "--target", "audit", "--workspace", workspaceId, "--dry-run");
    const run = dataOf(ReplayRun, json.out);
    expect(run).toMatchObject({ status: "completed", dryRun: true, matched: before.length, applied: 0, subject: `evt.${workspaceId}.>` });
    expect(await auditRows(workspaceId)).toEqual(before);
  });

  test("a real replay of the workspace applies what audit had, changing nothing; it is listed and shown; the system workspace records it", async ({ admin, workspaceId, galaxy, auditRows }) => {
    const before = await auditRows(workspaceId);
    const run = dataOf(ReplayRun, (await galaxy("--json", "replay", "--target", "audit", "--workspace", workspaceId)).out);
    expect(run).toMatchObject({ status: "completed", applied: before.length, failed: 0 });
    expect(await auditRows(workspaceId)).toEqual(before);

    const listed = await galaxy("replays", "list", "--target", "audit");
    expect(listed.code).toBe(EXIT.ok);
    expect(listed.out).toContain(run.id);
    const shown = dataOf(ReplayRun, (await galaxy("--json", "replays", "show", run.id)).out);
    expect(shown.id).toBe(run.id);
    await eventually(async () => {
      const rows = await admin.selectFrom("audit_logs").select("action").where("workspace_id", "=", SYSTEM_WORKSPACE_ID).where("resource_id", "=", run.id).execute();
      return rows.length === 2;
    }, "replay.started and replay.completed in the system workspace");
  });

  test("bad options are usage errors (exit 2) that name the option", async ({ galaxy }) => {
    const noWorkspace = await galaxy("replay", "--target", "audit", "--reset");
    expect(noWorkspace.code).toBe(EXIT.usage);
    expect(noWorkspace.err).toContain("workspaceId");
    expect((await galaxy("replay", "--target", "registry")).code).toBe(EXIT.usage);
    expect((await galaxy("replay")).code).toBe(EXIT.usage);
    expect((await galaxy("replay", "--target", "audit", "--rate", "0")).code).toBe(EXIT.usage);
    const both = await galaxy("replay", "--target", "audit", "--since", "2026-01-01T00:00:00Z", "--from-seq", "3");
    expect(both.code).toBe(EXIT.usage);
    expect(both.err).toContain("fromSeq");
    // A reset rebuilds the whole workspace: a bound would drop everything after it.
    const bounded = await galaxy("replay", "--target", "audit", "--workspace", randomUUID(), "--reset", "--to-seq", "9");
    expect(bounded.code).toBe(EXIT.usage);
    expect(bounded.err).toContain("give no until or toSeq");
  });

  test("an unknown replay is a failure (exit 1) with its code", async ({ galaxy }) => {
    const missing = await galaxy("replays", "show", randomUUID());
    expect(missing.code).toBe(EXIT.failure);
    expect(missing.err).toContain("replay_not_found");
  });
});

describe("galaxy dlq", () => {
  test("list and show a dead letter; a redrive hands it back, and one still forged is refused again and stays", async ({ admin, publisher, galaxy }) => {
    const ws = randomUUID();
    // An event whose claim no key of identity signed: audit dead-letters it (and reports it).
    const id = randomUUID();
    const agent: Agent = {
      id: randomUUID(), workspaceId: ws, name: "Forged", description: null, provider: "openai", model: "galaxy-dev-echo", systemPrompt: "x", temperature: null,
      maxTokens: null, tools: [], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null, status: "draft", version: 1,
      createdBy: randomUUID(), createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(),
    };
    await publisher.publishEvent({
      id,
      workspaceId: ws,
      type: "agent.created",
      schemaVersion: 1,
      payload: { id, type: "agent.created", occurredAt: new Date().toISOString(), workspaceId: ws, actor: { type: "user", id: agent.createdBy }, data: { agent } },
      context: { claim: "not.a.claim", traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`, correlationId: id, causationId: id },
    });
    const letter = await eventually(async () => {
      const listed = await galaxy("--json", "dlq", "list", "--consumer", "audit", "--subject", `evt.${ws}.agent.created`);
      const items = z.object({ data: z.array(DeadLetter) }).parse(JSON.parse(listed.out)).data;
      return items[0];
    }, "the dead letter");
    expect(letter).toMatchObject({ consumer: "audit", eventId: id, redrive: null });
    expect(letter.error).toContain("claim");

    const human = await galaxy("dlq", "list", "--consumer", "audit", "--pending");
    expect(human.out).toMatch(new RegExp(`${letter.id}\\s+audit\\s+evt\\.${ws}\\.agent\\.created`));
    const shown = await galaxy("dlq", "show", String(letter.id));
    expect(shown.out).toContain(`Dead letter ${letter.id} of audit`);
    expect(shown.out).toContain("Gx-Claim: (redacted)");

    // The claim is still forged: the redrive hands it back, audit refuses it again, and it stays.
    const redriven = await galaxy("dlq", "redrive", String(letter.id));
    expect(redriven.code).toBe(EXIT.failure);
    expect(redriven.out).toContain("refused it again");
    const actions = (await admin.selectFrom("audit_logs").select(["action", "resource_id"]).where("workspace_id", "=", ws).execute());
    expect(actions.filter((a) => a.action === "agent.created"), JSON.stringify(actions)).toEqual([]);

    expect((await galaxy("dlq", "redrive")).code).toBe(EXIT.usage);
    expect((await galaxy("dlq", "redrive", "1", "--consumer", "audit")).code).toBe(EXIT.usage);
    expect((await galaxy("dlq", "show", "abc")).code).toBe(EXIT.usage);
    const many = await galaxy("--json", "dlq", "redrive", "--consumer", "audit", "--subject", `evt.${ws}.agent.created`);
    expect(many.code).toBe(EXIT.failure);
    expect(JSON.parse(many.out)).toMatchObject({ data: { redriven: [{ id: letter.id, outcome: "failed" }] } });
  });
});

describe("galaxy executions rerun", () => {
  test("its options are checked before anything is asked (exit 2)", async ({ galaxy }) => {
    expect((await galaxy("executions", "rerun", "--since", "2026-01-01T00:00:00Z")).code).toBe(EXIT.usage);
    const badAgent = await galaxy("executions", "rerun", "--agent", "not-a-uuid", "--since", "2026-01-01T00:00:00Z");
    expect(badAgent.code).toBe(EXIT.usage);
    expect(badAgent.err).toContain("agentId");
    expect((await galaxy("executions", "rerun", "--agent", randomUUID(), "--since", "yesterday")).code).toBe(EXIT.usage);
    expect((await galaxy("executions", "rerun", "--agent", randomUUID(), "--since", "2026-01-01T00:00:00Z", "--status", "completed")).code).toBe(EXIT.usage);
  });
});

describe("galaxy audit verify", () => {
  test("checks a workspace's chain and exits 0 when intact", async ({ workspaceId, galaxy }) => {
    const result = await galaxy("audit", "verify", "--workspace", workspaceId);
    expect(result.code, result.err).toBe(EXIT.ok);
    expect(result.out).toContain("is intact");
    expect((await galaxy("audit", "verify")).code).toBe(EXIT.usage);
  });
});
