import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Bus, StoredEvent } from "@galaxy/bus";
import { SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";
import { createDb, sql } from "@galaxy/db";
import { connectTestBus, createTestEnv, serviceDb, testLogger, TestClaims } from "@galaxy/testkit";
import { createAudit } from "../services/audit/src/app";
import type { AuditDb } from "../services/audit/src/db";
import { createBenchWorld } from "./setup";

// `node --import tsx bench/replay.ts`: the replay rate of a rebuild (`reset`) of one
// workspace's audit log from REPLAY_BENCH_EVENTS (default 100,000) stored events, beside the
// raw rate of an ordered consumer reading the same events from the same stream, in the same run:
//   ordered reader  an ordered consumer on evt.<ws>.> that reads every message and does nothing;
//   replay (reset)  `audit.replays.start {target: audit, workspaceId, reset: true}`: the log is
//                   dropped, then rebuilt through audit's own batched handler, hashes and all.
// The rebuilt chain is checked against the one audit built live (same seq and hash values).

const EVENTS = Number(process.env.REPLAY_BENCH_EVENTS ?? 100_000);
const log = (line: string) => console.log(line);

async function publishAll(publisher: Bus, claims: TestClaims, workspaceId: string, count: number): Promise<void> {
  const claim = await claims.sign({ ws: workspaceId, ttlS: 3_600 });
  for (let start = 0; start < count; start += 1_000) {
    const chunk: StoredEvent[] = [];
    for (let i = start; i < Math.min(count, start + 1_000); i++) {
      const id = randomUUID();
      chunk.push({
        id,
        workspaceId,
        type: "agent.activated",
        schemaVersion: 1,
        payload: { id, type: "agent.activated", occurredAt: new Date().toISOString(), workspaceId, actor: { type: "user", id: randomUUID() }, data: { agentId: randomUUID(), version: 1, status: "active", before: "draft" } },
        context: { claim, traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`, correlationId: id, causationId: id },
      });
    }
    await Promise.all(chunk.map((event) => publisher.publishEvent(event)));
  }
}

/** Messages per second of an ordered consumer reading the workspace's events and nothing else. */
async function orderedRead(bus: Bus, workspaceId: string, count: number): Promise<number> {
  const reader = await bus.orderedReader("EVENTS", { filter: `evt.${workspaceId}.>` });
  const started = performance.now();
  const messages = await reader.consume({ max_messages: 512 });
  let seen = 0;
  for await (const msg of messages) {
    if (++seen >= count || msg.info.pending === 0) break;
  }
  const seconds = (performance.now() - started) / 1000;
  await messages.close();
  if (seen !== count) throw new Error(`the ordered reader saw ${seen} of ${count} events`);
  return count / seconds;
}

async function main(): Promise<void> {
  const world = await createBenchWorld(log);
  const env = await createTestEnv({ databaseUrl: world.databaseUrl, natsUrl: world.natsUrl, redisUrl: world.redisUrl, template: world.database });
  const claims = await TestClaims.create();
  const identity = await connectTestBus(env, "identity");
  await claims.serve(identity);
  const db = serviceDb<AuditDb>(env, "audit");
  const bus = await connectTestBus(env, "audit");
  const audit = createAudit({ db, bus, logger: testLogger("audit") });
  const publisher = await connectTestBus(env, "agent-registry");
  const operator = await connectTestBus(env, "galaxy-cli");
  const counter = createDb<AuditDb>({ connectionString: env.databaseUrl, schema: "audit", max: 1 });
  const workspaceId = randomUUID();
  const entries = async () => Number((await sql<{ n: string }>`select count(*) as n from audit.audit_logs where workspace_id = ${workspaceId}`.execute(counter)).rows[0]?.n ?? 0);
  const chain = async () => (await sql<{ seq: number; hash: string }>`select seq, hash from audit.audit_logs where workspace_id = ${workspaceId} order by seq`.execute(counter)).rows;
  try {
    await audit.start();
    log(`publishing ${EVENTS} events of one workspace…`);
    await publishAll(publisher, claims, workspaceId, EVENTS);
    while ((await entries()) < EVENTS) await new Promise((resolve) => setTimeout(resolve, 100));
    const live = await chain();

    const raw = await orderedRead(bus, workspaceId, EVENTS);
    log(`  ordered reader: ${Math.round(raw)} events/s`);

    const claim = await claims.sign({ ws: SYSTEM_WORKSPACE_ID, sub: "galaxy-cli", act: "operator", role: "admin" });
    const options = { claim, workspaceId: SYSTEM_WORKSPACE_ID };
    const started = performance.now();
    const { id } = await operator.request("audit.replays.start", { target: "audit", workspaceId, reset: true }, options);
    let run = await operator.request("audit.replays.get", { id }, options);
    while (run.status === "running") {
      await new Promise((resolve) => setTimeout(resolve, 100));
      run = await operator.request("audit.replays.get", { id }, options);
    }
    const seconds = (performance.now() - started) / 1000;
    if (run.status !== "completed" || run.applied !== EVENTS) throw new Error(`the replay ended ${run.status}: ${JSON.stringify(run)}`);
    const rebuilt = await chain();
    const identical = rebuilt.length === live.length && rebuilt.every((entry, i) => entry.seq === live[i]?.seq && entry.hash === live[i]?.hash);
    if (!identical) throw new Error("the rebuilt chain differs from the one built live");
    const replay = EVENTS / seconds;
    log(`  replay (reset): ${Math.round(replay)} events/s (rebuilt chain identical)`);
    log("");
    log(`| ${EVENTS.toLocaleString("en-US")} events of one workspace | events/s |`);
    log("| --- | --- |");
    log(`| ordered consumer, reading only | ${Math.round(raw).toLocaleString("en-US")} |`);
    log(`| replay with reset into the audit log | ${Math.round(replay).toLocaleString("en-US")} (${((replay / raw) * 100).toFixed(1)} % of the raw rate) |`);
  } finally {
    await bus.stopIntake();
    await audit.stop();
    await Promise.all([bus.close(), publisher.close(), operator.close(), identity.close()]);
    await Promise.all([db.destroy(), counter.destroy()]);
    await env.cleanup();
    await world.teardown();
  }
}

await main();
