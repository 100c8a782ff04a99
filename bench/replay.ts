import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { Bus, type StoredEvent } from "@galaxy/bus";
import { SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { testLogger } from "@galaxy/testkit";
import type { BenchContext, BenchOutcome } from "./context";
import { cpuLine, cpuPerUnit, machineBusyNote, perUnitLine } from "./cpu-notes";
import { galaxyCpuMeter, machineBusySeconds } from "./system/proc";
import { perSecond, ratio } from "./stats";

// Benchmark 5 of `make bench` (`BENCH_ONLY=5`): the replay rate of a rebuild (`reset`) of one
// workspace's audit log from BENCH_REPLAY_EVENTS (default 100,000) stored events, by audit as
// `make up` runs it (its own compiled process), beside the raw rate of an ordered consumer
// reading the same events from the same stream, in the same run:
//   ordered reader  an ordered consumer on evt.<ws>.> that reads every message and does nothing;
//   replay (reset)  `audit.replays.start {target: audit, workspaceId, reset: true}`, asked as the
//                   operator CLI asks it: the log is dropped, then rebuilt through audit's own
//                   batched handler, hashes and all.
// The events are `member.added`, which audit alone of Galaxy's services consumes, published with
// identity's service claims for a workspace of their own; the rebuilt chain is checked against
// the one audit built live (same seq and hash values).

export const REPLAY_EVENTS = Number(process.env.BENCH_REPLAY_EVENTS ?? process.env.REPLAY_BENCH_EVENTS ?? 100_000);
const TARGET_RATIO = 0.25;
/** Live ingest and the rebuild each give up past this. */
const WAIT_LIMIT_MS = 300_000;

async function publishAll(publisher: Bus, workspaceId: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 1_000) {
    // Identity's claim for the workspace, renewed by the cache as it nears its expiry.
    const claim = await publisher.serviceClaims.get(workspaceId);
    const chunk: StoredEvent[] = [];
    for (let i = start; i < Math.min(count, start + 1_000); i++) {
      const id = randomUUID();
      chunk.push({
        id,
        workspaceId,
        type: "member.added",
        schemaVersion: 1,
        payload: { id, type: "member.added", occurredAt: new Date().toISOString(), workspaceId, actor: { type: "user", id: randomUUID() }, data: { userId: randomUUID(), email: `member-${i}@example.com`, role: "member" } },
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

export async function replayRebuild(ctx: BenchContext): Promise<BenchOutcome> {
  const EVENTS = REPLAY_EVENTS;
  const { galaxy, log } = ctx;
  const connect = (service: string) => Bus.connect({ url: ctx.world.natsUrl, prefix: galaxy.busPrefix, service, logger: testLogger(service), requestTimeoutMs: 10_000 });
  // Events as identity publishes them; requests as the operator CLI makes them.
  const publisher = await connect("identity");
  const operator = await connect("galaxy-cli").catch(async (error: unknown) => {
    await publisher.close();
    throw error;
  });
  // A rebuild still running when the bench gives up is cancelled, so it does not weigh on the benchmarks after it.
  let running: { id: string; options: { claim: string; workspaceId: string } } | undefined;
  const workspaceId = randomUUID();
  const entries = async () => Number((await sql<{ n: string }>`select count(*) as n from audit.audit_logs where workspace_id = ${workspaceId}`.execute(ctx.db)).rows[0]?.n ?? 0);
  const chain = async () => (await sql<{ seq: number; hash: string }>`select seq, hash from audit.audit_logs where workspace_id = ${workspaceId} order by seq`.execute(ctx.db)).rows;
  try {
    log(`publishing ${EVENTS} events of one workspace…`);
    await publishAll(publisher, workspaceId, EVENTS);
    const ingestUntil = Date.now() + WAIT_LIMIT_MS;
    while ((await entries()) < EVENTS) {
      if (Date.now() > ingestUntil) throw new Error(`audit ingested ${await entries()} of ${EVENTS} events in ${WAIT_LIMIT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const live = await chain();

    const readerMeter = galaxyCpuMeter(new Map(), { "bench runner (reader)": process.pid });
    await readerMeter.start();
    const raw = await orderedRead(publisher, workspaceId, EVENTS);
    const readerCpu = await readerMeter.stop();
    log(`  ordered reader: ${Math.round(raw)} events/s`);

    const { claim } = await operator.request("identity.operator.claim", {});
    const options = { claim, workspaceId: SYSTEM_WORKSPACE_ID };
    const services = galaxy.pids();
    const meter = galaxyCpuMeter(services, { "bench runner": process.pid });
    await meter.start();
    const machineBefore = await machineBusySeconds();
    const started = performance.now();
    const { id } = await operator.request("audit.replays.start", { target: "audit", workspaceId, reset: true }, options);
    running = { id, options };
    let run = await operator.request("audit.replays.get", { id }, options);
    const replayUntil = Date.now() + WAIT_LIMIT_MS;
    while (run.status === "running") {
      if (Date.now() > replayUntil) throw new Error(`the replay was still running after ${WAIT_LIMIT_MS / 1000} s: ${JSON.stringify(run)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      run = await operator.request("audit.replays.get", { id }, options);
    }
    running = undefined;
    const seconds = (performance.now() - started) / 1000;
    const cpu = await meter.stop();
    const machineBusy = (await machineBusySeconds()) - machineBefore;
    if (run.status !== "completed" || run.applied !== EVENTS) throw new Error(`the replay ended ${run.status}: ${JSON.stringify(run)}`);
    const rebuilt = await chain();
    const identical = rebuilt.length === live.length && rebuilt.every((entry, i) => entry.seq === live[i]?.seq && entry.hash === live[i]?.hash);
    if (!identical) throw new Error("the rebuilt chain differs from the one built live");
    const replay = EVENTS / seconds;
    log(`  replay (reset): ${Math.round(replay)} events/s (rebuilt chain identical)`);
    const name = "5. replay rebuild";
    // Only the processes that did something: the other services idle through the rebuild.
    const busy = new Map([...cpu].filter(([, used]) => used >= 0.05));
    return {
      rows: [{ benchmark: name, metric: `${EVENTS.toLocaleString("en-US")} events with reset, /s`, galaxy: perSecond(replay, "event"), baseline: perSecond(raw, "event"), ratio: ratio(replay, raw), target: `≥ ${TARGET_RATIO}× ordered consumer`, met: replay >= TARGET_RATIO * raw }],
      notes: [
        `Replay (benchmark 5): ${EVENTS.toLocaleString("en-US")} \`member.added\` events of one workspace, ingested live by audit (its compiled process, as \`make up\` runs it), then its log rebuilt with \`reset\` in ${(EVENTS / replay).toFixed(1)} s; the rebuilt chain has the live chain's seq and hash values. Baseline: an ordered consumer reading the same events and doing nothing.`,
        `CPU during the rebuild (${seconds.toFixed(1)} s; 100% = one core, the machine has ${availableParallelism()}; processes that used 0.05 s or more): ${cpuLine(busy, seconds)}; per event ${cpuPerEvent(busy, EVENTS)} (the ordered reader: ${cpuPerEvent(readerCpu, EVENTS)}). The engines' figures are all their processes, other sessions' work on them included. ${machineBusyNote(machineBusy, seconds, 1)}`,
      ],
    };
  } finally {
    if (running) await operator.request("audit.replays.cancel", { id: running.id }, running.options).catch(() => undefined);
    await Promise.all([publisher.close(), operator.close()]);
  }
}

/** Microseconds of CPU per event, by process group, largest first (groups under 1 µs left out). */
function cpuPerEvent(cpu: ReadonlyMap<string, number>, events: number): string {
  return perUnitLine(cpuPerUnit(cpu, events, 1e6), 1, (micros) => `${micros.toFixed(0)} µs`);
}
