import { z } from "zod";
import { sql } from "@galaxy/db";
import { deliveryEventId } from "@galaxy/contracts";
import { sleep } from "./child";
import { deadLettersAfter, webhookConsumerIdle, type DeadLetter } from "./streams";
import { call } from "./http";
import type { ItemResult } from "./load";
import type { World } from "./world";

const TERMINAL = ["completed", "failed", "cancelled", "timed_out"];

/** What a fault did to one run's load, in the figures docs/reliability.md records. */
export interface Outcome {
  fault: string;
  deliveriesSent: number;
  deliveriesAccepted: number;
  startsSent: number;
  startsAccepted: number;
  /** Requests made in all, resends included. */
  requests: number;
  answers503: number;
  /** 503s without `Retry-After`. */
  answers503WithoutRetryAfter: number;
  /** Any answer at or above 500 other than 503, as `status code × n`. */
  answersOther5xx: Record<string, number>;
  /** 4xx answers, as `status code × n` (409 idempotency_in_progress is the contract's "retry shortly"). */
  answers4xx: Record<string, number>;
  /** No answer at all (connection refused or reset while a process was down, or a timeout). */
  noAnswer: number;
  /** Items that got no 2xx before the sender gave up. */
  neverAccepted: string[];
  /** Accepted (2xx) but without an execution of the answered id. */
  lost: string[];
  /** Keys with more than one execution, or whose execution is not the one answered. */
  doubled: string[];
  /** Executions not terminal when the settle time ran out. */
  stuck: string[];
  /** Executions that ended other than completed (the echo model never fails on its own). */
  notCompleted: string[];
  /** Runs that called the model more than once. */
  modelRepeats: string[];
  deadLetters: DeadLetter[];
  auditValid: boolean;
  /** Events of the run's executions (and accepted deliveries) with no audit entry. */
  auditMissing: number;
  /** From the end of the load until every accepted run was terminal; null when it never was. */
  settleMs: number | null;
  /** From the end of the fault until every service answered ready. */
  readyMs: number;
  /** Service exits nobody asked for. */
  crashes: string[];
}

const Row = z.object({ id: z.string(), key: z.string(), status: z.string() });

/**
 * Waits (at most `settleTimeoutMs`) for every accepted run of `results` to reach a terminal
 * state and be audited, then counts what was lost, doubled or stuck.
 */
export async function settle(world: World, fault: string, results: readonly ItemResult[], options: { loadEndedAt: number; readyMs: number; dlqBefore: number; settleTimeoutMs: number }): Promise<Outcome> {
  const run = /^fault-([a-z0-9]+)-/.exec(results[0]?.key ?? "")?.[1] ?? "";
  const accepted = results.filter((r) => r.executionId !== undefined);
  const rowsOfRun = async () =>
    z.array(Row).parse((await sql`select id::text as id, input->>'message' as key, status from execution.executions where input->>'message' like ${`fault-${run}-%`}`.execute(world.db)).rows);
  let rows: Array<z.infer<typeof Row>> = [];
  let settleMs: number | null = null;
  const deadline = Date.now() + options.settleTimeoutMs;
  for (;;) {
    // The consumer is asked before the rows are read: the worker acknowledges a delivery only
    // after its execution is committed, so rows read after an idle answer hold every delivery it
    // took. Read the other way round, a delivery taken between the two reads looked lost.
    const idle = await webhookConsumerIdle(world.nats);
    rows = await rowsOfRun();
    const ids = new Set(rows.map((row) => row.id));
    // Settled: every run ended, and every accepted one exists or never will (nothing left in the worker's inbox).
    const ended = rows.every((row) => TERMINAL.includes(row.status));
    if (ended && (idle || accepted.every((r) => ids.has(r.executionId ?? "")))) {
      settleMs = Date.now() - options.loadEndedAt;
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(500);
  }
  const byKey = new Map<string, Array<z.infer<typeof Row>>>();
  for (const row of rows) byKey.set(row.key, [...(byKey.get(row.key) ?? []), row]);
  const ids = new Set(rows.map((row) => row.id));

  const auditMissing = await waitForAudit(world, run, accepted, settleMs === null ? 5_000 : 60_000);
  const tenants = [...new Map(results.map((r) => [r.tenant.workspaceId, r.tenant])).values()];
  const verdicts = await Promise.all(tenants.map((tenant) => call(world.gatewayUrl, "GET", "/api/audit-logs/verify", { token: tenant.token })));
  const auditValid = verdicts.every((v) => v.status === 200 && z.object({ data: z.object({ valid: z.literal(true) }) }).safeParse(v.body).success);

  const attempts = results.flatMap((r) => r.attempts);
  const tally = (filter: (status: number) => boolean): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const a of attempts.filter((x) => filter(x.status))) counts[`${a.status} ${a.code ?? "(no code)"}`] = (counts[`${a.status} ${a.code ?? "(no code)"}`] ?? 0) + 1;
    return counts;
  };
  return {
    fault,
    deliveriesSent: results.filter((r) => r.kind === "delivery").length,
    deliveriesAccepted: accepted.filter((r) => r.kind === "delivery").length,
    startsSent: results.filter((r) => r.kind === "start").length,
    startsAccepted: accepted.filter((r) => r.kind === "start").length,
    requests: attempts.length,
    answers503: attempts.filter((a) => a.status === 503).length,
    answers503WithoutRetryAfter: attempts.filter((a) => a.status === 503 && !a.retryAfter).length,
    answersOther5xx: tally((s) => s >= 500 && s !== 503),
    answers4xx: tally((s) => s >= 400 && s < 500),
    noAnswer: attempts.filter((a) => a.status === 0).length,
    neverAccepted: results.filter((r) => r.executionId === undefined).map((r) => r.key),
    lost: accepted.filter((r) => !ids.has(r.executionId ?? "")).map((r) => r.key),
    doubled: [...byKey.entries()].filter(([key, list]) => list.length > 1 || accepted.some((r) => r.key === key && list[0]?.id !== r.executionId)).map(([key]) => key),
    stuck: rows.filter((row) => !TERMINAL.includes(row.status)).map((row) => `${row.key} ${row.status}`),
    notCompleted: rows.filter((row) => TERMINAL.includes(row.status) && row.status !== "completed").map((row) => `${row.key} ${row.status}`),
    modelRepeats: world.counter.repeated(new Set(rows.map((row) => row.key))).map((key) => `${key} ×${world.counter.callsOf(key)}`),
    deadLetters: await deadLettersAfter(world.nats, options.dlqBefore),
    auditValid,
    auditMissing,
    settleMs,
    readyMs: options.readyMs,
    crashes: [...world.galaxy.crashes],
  };
}

/**
 * Waits until every event of the run's executions, and every accepted delivery's
 * `webhook.received`, has its audit entry (an entry's id is its event's id); returns how many
 * are still missing when the time is up.
 */
async function waitForAudit(world: World, run: string, accepted: readonly ItemResult[], timeoutMs: number): Promise<number> {
  const deliveryEvents = accepted.filter((r) => r.kind === "delivery").map((r) => deliveryEventId(r.tenant.triggerId, `msg_${r.key}`));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missingEvents = await sql<{ n: number }>`select count(*)::int as n from execution.execution_events e join execution.executions x on x.id = e.execution_id
      where x.input->>'message' like ${`fault-${run}-%`} and not exists (select 1 from audit.audit_logs a where a.id = e.event_id)`.execute(world.db);
    const recorded = deliveryEvents.length === 0 ? [] : (await sql<{ id: string }>`select id::text as id from audit.audit_logs where id = any(${deliveryEvents}::uuid[])`.execute(world.db)).rows;
    const missing = (missingEvents.rows[0]?.n ?? 0) + deliveryEvents.length - recorded.length;
    if (missing === 0 || Date.now() > deadline) return missing;
    await sleep(500);
  }
}
