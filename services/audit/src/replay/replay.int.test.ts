import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { Bus, StoredEvent } from "@galaxy/bus";
import { GalaxyError, SYSTEM_WORKSPACE_ID, type Agent, type ReplayRun, type StartReplayBody } from "@galaxy/contracts";
import { createDb, sql, type Kysely } from "@galaxy/db";
import { connectTestBus, createTestEnv, serviceDb, testLogger, TestClaims, type TestEnv } from "@galaxy/testkit";
import { createAudit, type AuditService } from "../app";
import type { AuditDb } from "../db";
import { UnauditableEventError } from "../errors";

/**
 * Operator replay of the audit log and dead-letter redrive (issue 6, "How we will know"),
 * against real Postgres and NATS: audit runs the replay and is its target.
 */

let env: TestEnv;
let claims: TestClaims;
let identityBus: Bus;
let auditBus: Bus;
let publisher: Bus;
let caller: Bus;
let db: Kysely<AuditDb>;
/** The bootstrap (superuser) connection: sees every workspace and may delete what it likes. */
let admin: Kysely<AuditDb>;
let audit: AuditService;
let operator: string;

/** The test switch: events whose id is in here cannot be applied ("the bug"); emptying it is "the fix". */
const broken = new Set<string>();

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  claims = await TestClaims.create();
  identityBus = await connectTestBus(env, "identity");
  await claims.serve(identityBus);
  db = serviceDb<AuditDb>(env, "audit");
  auditBus = await connectTestBus(env, "audit");
  audit = createAudit({ db, bus: auditBus, logger: testLogger("audit"), retryBackoffMs: 50 });
  // Both ways in: the live consumer's (replay holds checked) and replays' and redrives'.
  const [apply, applyLive] = [audit.log.applyEvents.bind(audit.log), audit.log.applyLive.bind(audit.log)];
  const hitsTheBug = (batch: ReadonlyArray<{ event: { id: string } }>) => {
    const bad = batch.find((m) => broken.has(m.event.id));
    if (bad) throw new UnauditableEventError(`event ${bad.event.id} hits the bug under test`);
  };
  audit.log.applyEvents = async (batch) => {
    hitsTheBug(batch);
    return apply(batch);
  };
  audit.log.applyLive = async (batch) => {
    hitsTheBug(batch);
    return applyLive(batch);
  };
  await audit.start();
  publisher = await connectTestBus(env, "agent-registry");
  caller = await connectTestBus(env, "gateway");
  admin = createDb<AuditDb>({ connectionString: env.databaseUrl, schema: "audit", max: 2 });
  operator = await claims.sign({ ws: SYSTEM_WORKSPACE_ID, sub: "galaxy-cli", act: "operator", role: "admin" });
});

afterAll(async () => {
  await auditBus?.stopIntake();
  await audit?.stop();
  await Promise.all([auditBus?.close(), publisher?.close(), caller?.close(), identityBus?.close()]);
  await Promise.all([db?.destroy(), admin?.destroy()]);
  await env?.cleanup();
});

const USER = "0190a1b2-0000-7000-8000-0000000000aa";

function agentOf(workspaceId: string, name: string): Agent {
  return {
    id: randomUUID(),
    workspaceId,
    name,
    description: null,
    provider: "openai",
    model: "galaxy-dev-echo",
    systemPrompt: "Be kind.",
    temperature: 0.5,
    maxTokens: null,
    tools: [],
    knowledgeBaseIds: [],
    inputSchema: null,
    outputSchema: null,
    timeoutMs: null,
    notifyUrl: null,
    status: "draft",
    version: 1,
    createdBy: USER,
    createdAt: "2025-01-02T03:04:05.678Z",
    updatedAt: "2025-01-02T03:04:05.678Z",
  };
}

/** Publishes `agent.created` into EVENTS as the registry would, with a client IP and user agent the chain hashes. */
async function publishAgent(workspaceId: string, name: string): Promise<StoredEvent> {
  const id = randomUUID();
  const event: StoredEvent = {
    id,
    workspaceId,
    type: "agent.created",
    schemaVersion: 1,
    payload: { id, type: "agent.created", occurredAt: new Date().toISOString(), workspaceId, actor: { type: "user", id: USER }, data: { agent: agentOf(workspaceId, name) } },
    context: {
      claim: await claims.sign({ ws: workspaceId, sub: USER, act: "user", role: "admin" }),
      traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`,
      correlationId: randomUUID(),
      causationId: randomUUID(),
      clientIp: "203.0.113.9",
      userAgent: "replay-test",
    },
  };
  await publisher.publishEvent(event);
  return event;
}

async function rowsOf(workspaceId: string) {
  return admin.selectFrom("audit_logs").select(["id", "seq", "hash", "prev_hash", "stream_seq", "action", "occurred_at"]).where("workspace_id", "=", workspaceId).orderBy("seq").execute();
}

async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function rowCount(workspaceId: string, count: number): Promise<void> {
  await eventually(async () => (await rowsOf(workspaceId)).length === count, `${count} audit rows in ${workspaceId}`);
}

const asOperator = () => ({ claim: operator, workspaceId: SYSTEM_WORKSPACE_ID });

async function replay(body: Partial<StartReplayBody> & Pick<StartReplayBody, "target">): Promise<ReplayRun> {
  const accepted = await caller.request("audit.replays.start", body, asOperator());
  expect(accepted.status).toBe("running");
  return eventually(async () => {
    const run = await caller.request("audit.replays.get", { id: accepted.id }, asOperator());
    return run.status === "running" ? null : run;
  }, `replay ${accepted.id} to finish`);
}

describe("replay to the audit log", () => {
  const wsA = randomUUID();
  const wsB = randomUUID();

  test("replaying changes nothing; reset after the rows are deleted rebuilds identical seq and hash values; events during the rebuild appear once, after it; the other workspace is untouched", async () => {
    for (let i = 0; i < 20; i++) await publishAgent(wsA, `a-${i}`);
    for (let i = 0; i < 5; i++) await publishAgent(wsB, `b-${i}`);
    await rowCount(wsA, 20);
    await rowCount(wsB, 5);
    const before = await rowsOf(wsA);
    const other = await rowsOf(wsB);

    // 1. Replaying what audit already has changes nothing.
    const plain = await replay({ target: "audit", workspaceId: wsA });
    expect(plain).toMatchObject({ status: "completed", subject: `evt.${wsA}.>`, matched: 20, applied: 20, skipped: 0, failed: 0 });
    expect(await rowsOf(wsA)).toEqual(before);

    // 2. The workspace's rows are lost (straight in Postgres).
    await admin.deleteFrom("audit_logs").where("workspace_id", "=", wsA).execute();
    expect(await rowsOf(wsA)).toEqual([]);

    // 3. A slow rebuild (10 events a second), with live events published while it runs.
    const accepted = await caller.request("audit.replays.start", { target: "audit", workspaceId: wsA, reset: true, ratePerSec: 10 }, asOperator());
    await eventually(async () => (await caller.request("audit.replays.get", { id: accepted.id }, asOperator())).applied >= 3, "the rebuild to be under way");
    const live = [];
    for (let i = 0; i < 5; i++) live.push(await publishAgent(wsA, `live-${i}`));
    const done = await eventually(async () => {
      const run = await caller.request("audit.replays.get", { id: accepted.id }, asOperator());
      return run.status === "running" ? null : run;
    }, "the rebuild to finish");
    expect(done).toMatchObject({ status: "completed", reset: true, matched: 20, applied: 20, failed: 0, etaSeconds: 0 });

    await rowCount(wsA, 25);
    const after = await rowsOf(wsA);
    expect(after.slice(0, 20)).toEqual(before);
    expect(after.slice(20).map((r) => r.id)).toEqual(live.map((e) => e.id));
    expect(after.map((r) => r.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    for (let i = 1; i < after.length; i++) expect(after[i]?.prev_hash).toBe(after[i - 1]?.hash);
    expect(await audit.verifyWorkspace(wsA)).toMatchObject({ valid: true, entries: 25 });
    expect(await rowsOf(wsB)).toEqual(other);
    // Nothing waits any more, and nothing was re-published into EVENTS.
    expect(await audit.operator.holds.holder(wsA)).toBeNull();
    expect(await countEvents(`evt.${wsA}.>`)).toBe(25);

    // Both replays are in the system workspace's audit log.
    const system = await eventually(async () => {
      const rows = await admin.selectFrom("audit_logs").select(["action", "resource_id"]).where("workspace_id", "=", SYSTEM_WORKSPACE_ID).where("resource_id", "=", accepted.id).execute();
      return rows.length === 2 ? rows : null;
    }, "replay.started and replay.completed in the system workspace");
    expect(system.map((r) => r.action).sort()).toEqual(["replay.completed", "replay.started"]);
  });

  test("a dry run counts and changes nothing", async () => {
    const before = await rowsOf(wsA);
    const run = await replay({ target: "audit", workspaceId: wsA, dryRun: true });
    expect(run).toMatchObject({ status: "completed", dryRun: true, matched: 25, applied: 0, skipped: 25 });
    expect(await rowsOf(wsA)).toEqual(before);
  });

  test("bounds: fromSeq and toSeq read only that stretch of the stream", async () => {
    const rows = await rowsOf(wsB);
    const from = rows[1]?.stream_seq ?? 0;
    const to = rows[3]?.stream_seq ?? 0;
    const run = await replay({ target: "audit", workspaceId: wsB, fromSeq: from, toSeq: to, dryRun: true });
    expect(run).toMatchObject({ status: "completed", matched: 3, endSeq: to });
  });

  test("replays are listed newest first; a target outside the catalog, or reset without a workspace, is a 400", async () => {
    const page = await caller.request("audit.replays.list", { limit: 2, offset: 0 }, asOperator());
    expect(page.items).toHaveLength(2);
    expect(page.pagination.total).toBeGreaterThanOrEqual(4);
    await expect(caller.request("audit.replays.start", { target: "registry" }, asOperator())).rejects.toMatchObject({ status: 400 });
    await expect(caller.request("audit.replays.start", { target: "audit", reset: true }, asOperator())).rejects.toMatchObject({ status: 400 });
    // A reset empties the whole chain: rebuilding only up to a bound would lose the rest.
    for (const bound of [{ toSeq: 5 }, { until: new Date().toISOString() }]) {
      const refused = await caller.request("audit.replays.start", { target: "audit", workspaceId: wsB, reset: true, ...bound }, asOperator()).catch((e: unknown) => e);
      expect(refused).toMatchObject({ status: 400, code: "validation_failed" });
      expect(JSON.stringify(refused)).toContain("give no until or toSeq");
    }
    expect(await audit.operator.holds.holder(wsB)).toBeNull();
  });

  test("a workspace claim, even an owner's, is refused (403)", async () => {
    const owner = await claims.sign({ ws: wsA, sub: USER, act: "user", role: "owner" });
    const refused = await caller.request("audit.replays.start", { target: "audit", workspaceId: wsA }, { claim: owner, workspaceId: wsA }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GalaxyError);
    expect(refused).toMatchObject({ status: 403, code: "system_admin_required" });
    await expect(caller.request("audit.dead_letters.list", { limit: 20, offset: 0 }, { claim: owner, workspaceId: wsA })).rejects.toMatchObject({ status: 403 });
  });
});

describe("reset", () => {
  async function deferredOf(workspaceId: string): Promise<number> {
    const { rows } = await sql<{ n: string }>`select count(*) as n from audit.replay_deferred where workspace_id = ${workspaceId}`.execute(admin);
    return Number(rows[0]?.n);
  }

  test("the end is read after the hold: a live event applied just before the hold, then dropped, is rebuilt", async () => {
    const ws = randomUUID();
    for (let i = 0; i < 3; i++) await publishAgent(ws, `r-${i}`);
    await rowCount(ws, 3);
    const holds = audit.operator.holds;
    const hold = holds.hold.bind(holds);
    let racing: StoredEvent | undefined;
    // Between the request arriving and the hold, a live event of the workspace is applied; the reset then drops it.
    holds.hold = async (workspaceId, replayId) => {
      racing = await publishAgent(ws, "racing");
      await rowCount(ws, 4);
      await hold(workspaceId, replayId);
    };
    let run: ReplayRun;
    try {
      run = await replay({ target: "audit", workspaceId: ws, reset: true });
    } finally {
      holds.hold = hold;
    }
    expect(run).toMatchObject({ status: "completed", matched: 4, applied: 4, failed: 0 });
    const rows = await rowsOf(ws);
    expect(rows.map((r) => r.id)).toContain(racing?.id);
    expect(rows).toHaveLength(4);
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 4 });
  });

  test("a cancelled reset keeps the workspace held: live events wait instead of landing on a part-built chain; the reset run again rebuilds and releases", async () => {
    const ws = randomUUID();
    for (let i = 0; i < 6; i++) await publishAgent(ws, `c-${i}`);
    await rowCount(ws, 6);
    const before = await rowsOf(ws);
    const accepted = await caller.request("audit.replays.start", { target: "audit", workspaceId: ws, reset: true, ratePerSec: 2 }, asOperator());
    await eventually(async () => (await caller.request("audit.replays.get", { id: accepted.id }, asOperator())).applied >= 1, "the rebuild to be under way");
    await caller.request("audit.replays.cancel", { id: accepted.id }, asOperator());
    const cancelled = await eventually(async () => {
      const run = await caller.request("audit.replays.get", { id: accepted.id }, asOperator());
      return run.status === "running" ? null : run;
    }, "the cancel");
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.error).toContain("stays held");
    expect(await audit.operator.holds.holder(ws)).toBe(accepted.id);
    const partial = (await rowsOf(ws)).length;
    expect(partial).toBeLessThan(6);

    const live = await publishAgent(ws, "live");
    await eventually(async () => (await deferredOf(ws)) === 1, "the live event kept aside");
    expect(await rowsOf(ws)).toHaveLength(partial);

    const again = await replay({ target: "audit", workspaceId: ws, reset: true });
    expect(again).toMatchObject({ status: "completed", error: null, matched: 7 });
    const after = await rowsOf(ws);
    expect(after.slice(0, 6)).toEqual(before);
    expect(after.map((r) => r.id)).toEqual([...before.map((r) => r.id), live.id]);
    expect(await audit.operator.holds.holder(ws)).toBeNull();
    expect(await deferredOf(ws)).toBe(0);
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 7 });
  });

  test("audit.replay_reset refuses the login role unless a running reset holds the workspace, and never empties a pruned chain", async () => {
    const ws = randomUUID();
    for (let i = 0; i < 3; i++) await publishAgent(ws, `g-${i}`);
    await rowCount(ws, 3);
    const before = await rowsOf(ws);
    const resetAsLogin = () => sql`select audit.replay_reset(${ws}::uuid) as removed`.execute(db);

    // No replay: refused.
    await expect(resetAsLogin()).rejects.toThrow(/refused: no running reset replay/);
    // A running reset replay that does not hold the workspace: refused.
    const runId = randomUUID();
    await admin
      .insertInto("replay_runs")
      .values({ id: runId, workspace_id: SYSTEM_WORKSPACE_ID, target: "audit", subject: `evt.${ws}.>`, filter_workspace_id: ws, dry_run: false, reset: true, status: "running", requested_by: "test" })
      .execute();
    await expect(resetAsLogin()).rejects.toThrow(/refused: no running reset replay/);
    expect(await rowsOf(ws)).toEqual(before);

    // Retention removed the first entry (its checkpoint stands in for it): a reset is refused,
    // even while held, and the checkpoint stays.
    await admin.deleteFrom("audit_logs").where("workspace_id", "=", ws).where("seq", "=", 1).execute();
    await admin.insertInto("audit_checkpoints").values({ workspace_id: ws, seq: 1, hash: before[0]?.hash ?? "" }).execute();
    await sql`insert into audit.replay_holds (workspace_id, consumer, replay_id) values (${ws}, 'audit', ${runId})`.execute(admin);
    await expect(resetAsLogin()).rejects.toThrow(/refused: retention has pruned/);
    await sql`delete from audit.replay_holds where workspace_id = ${ws}`.execute(admin);
    await admin.updateTable("replay_runs").set({ status: "failed" }).where("id", "=", runId).execute();

    // Through a replay: a clear 409, nothing held or dropped.
    const refused = await caller.request("audit.replays.start", { target: "audit", workspaceId: ws, reset: true }, asOperator()).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 409, code: "audit_chain_pruned" });
    expect(await audit.operator.holds.holder(ws)).toBeNull();
    expect(await rowsOf(ws)).toEqual(before.slice(1));
    expect(await admin.selectFrom("audit_checkpoints").select(["seq"]).where("workspace_id", "=", ws).execute()).toEqual([{ seq: 1 }]);
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 2 });
  });
});

describe("dead letters", () => {
  test("a message audit cannot apply ends in dead letters; once the code is fixed, a redrive applies it once", async () => {
    const ws = randomUUID();
    await publishAgent(ws, "first");
    await rowCount(ws, 1);
    const poison = await makePoison(ws);
    await publishAgent(ws, "after");
    // The consumer moves on: the poison is a dead letter, acked, and the next event is applied.
    await rowCount(ws, 2);
    const listed = await eventually(async () => {
      const page = await caller.request("audit.dead_letters.list", { consumer: "audit", limit: 100, offset: 0 }, asOperator());
      return page.items.find((l) => l.eventId === poison.id);
    }, "the dead letter");
    expect(listed).toMatchObject({ consumer: "audit", subject: `evt.${ws}.agent.created`, workspaceId: ws, eventType: "agent.created", deliveries: 1, redrive: null });
    expect(listed.error).toContain("hits the bug under test");
    expect(listed.headers["Gx-Claim"]).toBe("(redacted)");
    const shown = await caller.request("audit.dead_letters.get", { id: listed.id }, asOperator());
    expect(shown).toMatchObject({ id: listed.id, payload: { id: poison.id, type: "agent.created" } });

    broken.clear();
    const redriven = await caller.request("audit.dead_letters.redrive", { id: listed.id }, asOperator());
    expect(redriven).toEqual({ id: listed.id, outcome: "applied", error: null });
    const rows = await rowsOf(ws);
    expect(rows.map((r) => r.id)).toEqual([rows[0]?.id, rows[1]?.id, poison.id]);
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 3 });

    // Once applied, it is never applied again.
    await expect(caller.request("audit.dead_letters.redrive", { id: listed.id }, asOperator())).rejects.toMatchObject({ status: 409, code: "dead_letter_redriven" });
    const again = await caller.request("audit.dead_letters.redrive_many", { consumer: "audit", subject: `evt.${ws}.agent.created` }, asOperator());
    expect(again.redriven).toEqual([]);
    expect(await rowsOf(ws)).toHaveLength(3);
    const marked = await caller.request("audit.dead_letters.list", { consumer: "audit", redriven: "true", limit: 100, offset: 0 }, asOperator());
    expect(marked.items.find((l) => l.id === listed.id)?.redrive).toMatchObject({ outcome: "applied", by: "galaxy-cli" });
  });

  test("redrive by consumer and subject takes every dead letter not applied yet; an unknown id is a 404", async () => {
    const ws = randomUUID();
    const one = await makePoison(ws);
    const two = await makePoison(ws);
    await eventually(async () => {
      const page = await caller.request("audit.dead_letters.list", { consumer: "audit", subject: `evt.${ws}.agent.created`, limit: 100, offset: 0 }, asOperator());
      return page.items.length === 2;
    }, "two dead letters");
    broken.clear();
    const result = await caller.request("audit.dead_letters.redrive_many", { consumer: "audit", subject: `evt.${ws}.agent.created` }, asOperator());
    expect(result.redriven.map((r) => r.outcome)).toEqual(["applied", "applied"]);
    expect((await rowsOf(ws)).map((r) => r.id)).toEqual([one.id, two.id]);
    await expect(caller.request("audit.dead_letters.get", { id: 987_654 }, asOperator())).rejects.toMatchObject({ status: 404, code: "dead_letter_not_found" });
  });
});

/** Publishes an event the audit handler cannot apply while the test switch is on. */
async function makePoison(ws: string): Promise<StoredEvent> {
  const id = randomUUID();
  broken.add(id);
  const event: StoredEvent = {
    id,
    workspaceId: ws,
    type: "agent.created",
    schemaVersion: 1,
    payload: { id, type: "agent.created", occurredAt: new Date().toISOString(), workspaceId: ws, actor: { type: "user", id: USER }, data: { agent: agentOf(ws, "poison") } },
    context: {
      claim: await claims.sign({ ws, sub: USER, act: "user", role: "admin" }),
      traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`,
      correlationId: randomUUID(),
      causationId: randomUUID(),
    },
  };
  await publisher.publishEvent(event);
  return event;
}

/** How many messages of EVENTS match `filter`, counted through an ordered reader. */
async function countEvents(filter: string): Promise<number> {
  const reader = await auditBus.orderedReader("EVENTS", { filter });
  const pending = (await reader.info()).num_pending;
  await reader.delete().catch(() => undefined);
  return pending;
}
