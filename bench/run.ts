import { randomBytes, randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { dropStreams } from "@galaxy/bus";
import { createDb, sql, type Kysely } from "@galaxy/db";
import { createTenant } from "../test/fault/support/tenant";
import { createBaselineTable, createStream } from "./bare";
import { startBaselineProcess } from "./baseline/process";
import { CompletionWatcher } from "./completions";
import type { BenchContext, BenchOutcome, ResultRow } from "./context";
import { executionLatency } from "./latency";
import type { DeliveryFigures } from "./load/timing";
import { serviceMemory } from "./memory";
import { noisyNeighbour } from "./noisy";
import { READ_PATH_WORKSPACES, readPath } from "./read-path";
import { replayRebuild } from "./replay";
import { hostFacts, machineLine, resultsBlock, resultsTable, writeResultsBlock, type Machine } from "./report";
import { scaling } from "./scaling";
import { createBenchWorld, type BenchWorld } from "./setup";
import { statementsPerExecution } from "./statements";
import { BULL_CONCURRENCY, sustainedExecutions } from "./sustained";
import { claimRedisDb } from "./system/redis-db";
import { startGalaxySystem } from "./system/galaxy";
import { webhookIntake } from "./webhooks";

// `make bench`: every performance target of docs/benchmarks.md, each beside its baseline
// measured in the same run. Galaxy runs as `make up` runs it (compiled, one process per
// service) on a database, bus prefix and Redis database of the run's own; the baselines run in
// a process of their own; the senders in processes of their own. Benchmark 4 (statements) runs
// first, in this process. `BENCH_ONLY=2,3` runs some of them. Every count is
// fixed and every wait bounded; the run is abandoned (after cleaning up) past DEADLINE_MS.

const DEADLINE_MS = 15 * 60_000;
const DOC = fileURLToPath(new URL("../docs/benchmarks.md", import.meta.url));
const log = (line: string) => console.log(line);

/**
 * The benchmarks on the running system, in the order they run: 7 reads memory right after 3;
 * 5 (the replay, which leaves audit's heap larger) after 7, on a system with nothing queued;
 * 8 and 1 leave executions queued behind them (A's burst, the intake's deliveries), so they come last.
 */
const SYSTEM_ORDER = [2, 3, 7, 9, 6, 5, 8, 1] as const;

function selection(): Set<number> {
  const only = process.env.BENCH_ONLY?.trim();
  const chosen = new Set(only ? only.split(",").map((part) => Number(part.trim())) : [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const n of chosen) if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`BENCH_ONLY=${only}: numbers 1 to 9, comma-separated`);
  // Memory is read after the sustained run.
  if (chosen.has(7)) chosen.add(3);
  return chosen;
}

async function engineVersions(redisUrl: string, db: Kysely<unknown>, nc: NatsConnection): Promise<Pick<Machine, "postgres" | "nats" | "redis">> {
  const pg = await sql<{ server_version: string }>`show server_version`.execute(db);
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info("server");
    return { postgres: pg.rows[0]?.server_version ?? "?", nats: nc.info?.version ?? "?", redis: /redis_version:(\S+)/.exec(info)?.[1] ?? "?" };
  } finally {
    redis.disconnect();
  }
}

type Cleanups = Array<[string, () => Promise<void>]>;

/** Starts Galaxy's processes, the baseline process, the watchers and the workspaces the chosen benchmarks need. */
async function startSystem(world: BenchWorld, chosen: Set<number>, cleanups: Cleanups, failed: () => boolean): Promise<BenchContext> {
  const redisDb = await claimRedisDb(world.redisUrl, world.database);
  cleanups.push([`Redis database ${redisDb.index}`, () => redisDb.release()]);
  const galaxyPrefix = `${world.busPrefix}g`;
  cleanups.push([`streams of ${galaxyPrefix}`, () => dropStreams(world.natsUrl, galaxyPrefix)]);
  const galaxy = await startGalaxySystem({ databaseUrl: world.databaseUrlOfBench, natsUrl: world.natsUrl, redisUrl: redisDb.url }, galaxyPrefix, log);
  cleanups.push(["Galaxy's processes", () => galaxy.stop(failed())]);
  log(`  Galaxy at ${galaxy.gatewayUrl} (processes: ${[...galaxy.pids().keys()].join(", ")}), bus prefix ${galaxyPrefix}, Redis database ${redisDb.index}`);

  const db = createDb<unknown>({ connectionString: world.databaseUrlOfBench, max: 2, applicationName: "galaxy-bench-runner" });
  cleanups.push(["runner pool", () => db.destroy()]);
  await createBaselineTable(db);
  const nc = await connect({ servers: world.natsUrl, name: "galaxy-bench-runner" });
  cleanups.push(["runner connection", () => nc.close()]);
  await createStream(nc, world.busPrefix);
  const galaxyFinished = new CompletionWatcher(nc, galaxyPrefix);
  const finished = new CompletionWatcher(nc, world.busPrefix);
  const bullFinished = new CompletionWatcher(nc, `${world.busPrefix}.bull`);
  cleanups.push(["watchers", async () => [galaxyFinished, finished, bullFinished].forEach((w) => w.stop())]);
  await nc.flush();

  const workspaceId = randomUUID();
  const secret = `whsec_${randomBytes(24).toString("base64")}`;
  const bullPrefix = "galaxy-bench-bull";
  const baseline = await startBaselineProcess(
    { databaseUrl: world.databaseUrlOfBench, natsUrl: world.natsUrl, redisUrl: redisDb.url, prefix: world.busPrefix, workspaceId, modelUrl: galaxy.modelUrl, secret, pool: 10, bullConcurrency: BULL_CONCURRENCY, bullPrefix },
    galaxy.logDir,
  );
  cleanups.push(["baseline process", () => baseline.stop()]);

  const tenant = await createTenant(galaxy.gatewayUrl, db, "bench");
  const readers = [tenant];
  if (chosen.has(6)) for (let i = 1; i < READ_PATH_WORKSPACES; i++) readers.push(await createTenant(galaxy.gatewayUrl, db, `reader${i}`));
  const needsNeighbours = chosen.has(8);
  const noisy = needsNeighbours ? await createTenant(galaxy.gatewayUrl, db, "noisy") : tenant;
  const quiet = needsNeighbours ? await createTenant(galaxy.gatewayUrl, db, "quiet") : tenant;
  return {
    world,
    galaxy,
    redisUrl: redisDb.url,
    tenant,
    webhookUrl: `${galaxy.gatewayUrl}/hooks/${tenant.triggerId}`,
    tenants: { readers, noisy, quiet },
    galaxyFinished,
    db,
    bare: { process: baseline, nc, prefix: world.busPrefix, workspaceId, secret, bullPrefix, finished, bullFinished },
    log,
  };
}

async function main(): Promise<number> {
  const started = performance.now();
  const host = hostFacts();
  const chosen = selection();
  const cleanups: Cleanups = [];
  let failures = 0;
  const cleanUp = async () => {
    for (const [what, fn] of cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        log(`cleanup: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    cleanups.length = 0;
  };
  const deadline = setTimeout(() => {
    log(`make bench: still running after ${DEADLINE_MS / 1000} s; cleaning up and giving up`);
    void cleanUp().finally(() => process.exit(2));
  }, DEADLINE_MS);
  deadline.unref();

  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const record = async (name: string, run: () => Promise<BenchOutcome>): Promise<BenchOutcome | undefined> => {
    log(`\n${name}`);
    const t0 = performance.now();
    try {
      const outcome = await run();
      rows.push(...outcome.rows);
      notes.push(...outcome.notes);
      return outcome;
    } catch (error) {
      failures++;
      const reason = error instanceof Error ? error.message : String(error);
      log(`  FAILED: ${reason}`);
      rows.push({ benchmark: name, metric: "failed", galaxy: reason.split("\n")[0]?.slice(0, 80) ?? "", baseline: "", ratio: "", target: "", met: false });
      return undefined;
    } finally {
      log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  };

  try {
    log(`setting up: bench database (load average ${loadavg().map((l) => l.toFixed(2)).join(" ")})`);
    const world = await createBenchWorld(log);
    cleanups.push(["bench database, streams and keys", () => world.teardown()]);
    cleanups.push(["statement benchmark's streams", () => dropStreams(world.natsUrl, `${world.busPrefix}s`)]);
    log(`  database ${world.database}, prefix ${world.busPrefix}`);
    // This one runs Galaxy's code in this process, on a clone of the bench database: before the processes use it.
    if (chosen.has(4)) await record("4. Postgres statements per execution (in-process count)", () => statementsPerExecution(world, log));

    const systemParts = SYSTEM_ORDER.filter((n) => chosen.has(n));
    let machineDb: Kysely<unknown> | undefined;
    let ctx: BenchContext | undefined;
    if (systemParts.length > 0) {
      log("\nsetting up: Galaxy as `make up` runs it, the baseline process, workspaces");
      ctx = await startSystem(world, chosen, cleanups, () => failures > 0);
      machineDb = ctx.db;
      log(`  ready after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const deliveryRuns = new Map<number, DeliveryFigures>();
    for (const n of systemParts) {
      const system = ctx as BenchContext;
      if (n === 2) {
        const outcome = await record("2. latency, webhook POST → execution.completed, one at a time", () => executionLatency(system));
        if (outcome && "figures" in outcome) deliveryRuns.set(1, outcome.figures as DeliveryFigures);
      } else if (n === 3) {
        await record("3. sustained, 3,000 deliveries from 64 senders", () => sustainedExecutions(system));
      } else if (n === 7) await record("7. memory of every service after the sustained run", () => serviceMemory(system));
      else if (n === 9) await record("9. scaling: 1, 8, 32, 64 senders", () => scaling(system, deliveryRuns));
      else if (n === 6) await record("6. read path, GET /api/executions/{id}", () => readPath(system));
      else if (n === 5) await record("5. replay rebuild", () => replayRebuild(system));
      else if (n === 1) await record("1. intake, signed webhook deliveries at 64 connections", () => webhookIntake(system));
      else if (n === 8) await record("8. noisy neighbour", () => noisyNeighbour(system));
    }
    for (const watcher of ctx ? [ctx.galaxyFinished, ctx.bare.finished, ctx.bare.bullFinished] : []) {
      if (watcher.malformedEvents > 0) notes.push(`Unreadable finished events: ${watcher.malformedEvents}.`);
    }

    const versionsDb = machineDb ?? createDb<unknown>({ connectionString: world.databaseUrlOfBench, max: 1 });
    const nc = await connect({ servers: world.natsUrl });
    const machine: Machine = { ...host, ...(await engineVersions(world.redisUrl, versionsDb, nc)) };
    await nc.close();
    if (!machineDb) await versionsDb.destroy();

    const durationS = (performance.now() - started) / 1000;
    const ordered = [...rows].sort((a, b) => Number.parseInt(a.benchmark, 10) - Number.parseInt(b.benchmark, 10));
    log(`\nresults: ${machineLine(machine)}; load average ${loadavg()[0]?.toFixed(2)} at the end; ${durationS.toFixed(0)} s\n`);
    log(resultsTable(ordered));
    log("");
    for (const note of notes) log(`- ${note}`);
    if (process.env.BENCH_WRITE_DOC === "1") {
      await writeResultsBlock(DOC, resultsBlock(machine, ordered, [...notes, `Load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(" ")} (1, 5, 15 minutes).`], durationS, new Date()));
      log(`\nwrote the results block of ${DOC}`);
    }
    return failures > 0 ? 1 : 0;
  } finally {
    await cleanUp();
    clearTimeout(deadline);
    log(`\nmake bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
