import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { Bus, StoredEvent } from "@galaxy/bus";
import { createDb, sql } from "@galaxy/db";
import { connectTestBus, createTestEnv, serviceDb, testLogger, TestClaims, type TestEnv } from "@galaxy/testkit";
import { createAudit, type AuditDb } from "@galaxy/audit";
import { createBenchWorld } from "./setup";

// `node --import tsx bench/audit-ingest.ts`: how fast the audit consumer turns stored events
// into chain entries, beside a bare JetStream pull consumer reading and acking the same
// events, in the same run. Three numbers on separate copies of one stream of EVENTS:
//   bare      a durable pull consumer that acks each message and does nothing else;
//   batched   audit as it runs (consumeBatch, up to 256 events per transaction);
//   one by one  the same audit code with batches of one (what it did before batching).
// The events are 20 workspaces' `agent.activated`, interleaved, with signed claims.

const EVENTS = Number(process.env.AUDIT_BENCH_EVENTS ?? 10_000);
const WORKSPACES = 20;
const log = (line: string) => console.log(line);

async function publishAll(env: TestEnv, claims: TestClaims, count: number): Promise<void> {
  const publisher = await connectTestBus(env, "agent-registry");
  try {
    const workspaces = Array.from({ length: WORKSPACES }, () => randomUUID());
    const claimOf = new Map<string, string>();
    for (const ws of workspaces) claimOf.set(ws, await claims.sign({ ws }));
    for (let start = 0; start < count; start += 500) {
      const chunk: StoredEvent[] = [];
      for (let i = start; i < Math.min(count, start + 500); i++) {
        const workspaceId = workspaces[i % WORKSPACES] ?? "";
        const id = randomUUID();
        chunk.push({
          id,
          workspaceId,
          type: "agent.activated",
          schemaVersion: 1,
          payload: { id, type: "agent.activated", occurredAt: new Date().toISOString(), workspaceId, actor: { type: "user", id: randomUUID() }, data: { agentId: randomUUID(), version: 1, status: "active", before: "draft" } },
          context: { claim: claimOf.get(workspaceId) ?? "", traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`, correlationId: id, causationId: id },
        });
      }
      await Promise.all(chunk.map((event) => publisher.publishEvent(event)));
    }
  } finally {
    await publisher.close();
  }
}

/** Events per second of a bare durable pull consumer that acks every message, on a NATS connection of its own. */
async function bareConsume(bus: Bus, natsUrl: string, count: number): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const stream = bus.stream("EVENTS");
  await jsm.consumers.add(stream, { durable_name: "bare", ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: 512 });
  const consumer = await jetstream(nc).consumers.get(stream, "bare");
  const started = performance.now();
  const messages = await consumer.consume({ max_messages: 256 });
  let seen = 0;
  for await (const msg of messages) {
    msg.ack();
    if (++seen >= count) break;
  }
  const seconds = (performance.now() - started) / 1000;
  await messages.close();
  await nc.close();
  return count / seconds;
}

/** Events per second of the audit consumer, from start until every event is an entry. */
async function auditIngest(env: TestEnv, claims: TestClaims, count: number, maxBatch?: number): Promise<number> {
  const identity = await connectTestBus(env, "identity");
  await claims.serve(identity);
  const db = serviceDb<AuditDb>(env, "audit");
  const bus = await connectTestBus(env, "audit");
  const audit = createAudit({ db, bus, logger: testLogger("audit") });
  // The superuser counts entries past row-level security.
  const counter = createDb<AuditDb>({ connectionString: env.databaseUrl, schema: "audit", max: 1 });
  try {
    const started = performance.now();
    if (maxBatch === undefined) await audit.start();
    // Like for like: the same handler as audit's own consumer (replay holds checked in its statement), only in batches of one.
    else
      await bus.consumeBatch({
        durable: "audit-one-by-one",
        filter: "evt.>",
        maxBatch,
        handler: (messages) => audit.applyBatch(messages),
      });
    for (;;) {
      const { rows } = await sql<{ n: string }>`select count(*) as n from audit.audit_logs`.execute(counter);
      if (Number(rows[0]?.n ?? 0) >= count) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return count / ((performance.now() - started) / 1000);
  } finally {
    await bus.stopIntake();
    await audit.stop();
    await bus.close();
    await identity.close();
    await db.destroy();
    await counter.destroy();
  }
}

async function main(): Promise<void> {
  const world = await createBenchWorld(log);
  const engines = { databaseUrl: world.databaseUrl, natsUrl: world.natsUrl, redisUrl: world.redisUrl, template: world.database };
  const claims = await TestClaims.create();
  const envs: TestEnv[] = [];
  try {
    const results: Array<[string, number]> = [];
    for (const mode of ["bare", "batched", "one by one"] as const) {
      const env = await createTestEnv(engines);
      envs.push(env);
      await publishAll(env, claims, EVENTS);
      if (mode === "bare") {
        const bus = await connectTestBus(env, "observer");
        results.push([mode, await bareConsume(bus, env.natsUrl, EVENTS)]);
        await bus.close();
      } else {
        results.push([mode, await auditIngest(env, claims, EVENTS, mode === "batched" ? undefined : 1)]);
      }
      log(`  ${mode}: ${Math.round(results.at(-1)?.[1] ?? 0)} events/s`);
    }
    log("");
    log(`| ${EVENTS} stored events, ${WORKSPACES} workspaces | events/s |`);
    log("| --- | --- |");
    for (const [mode, rate] of results) log(`| ${mode} | ${Math.round(rate).toLocaleString("en-US")} |`);
  } finally {
    for (const env of envs) await env.cleanup();
    await world.teardown();
  }
}

await main();
