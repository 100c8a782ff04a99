import { getNextMillis } from "bullmq";
import { SCHEDULE_NEXT_RUNS, type AgentStatus, type Trigger } from "@galaxy/contracts";

/**
 * A schedule's next ticks after `now`, soonest first: computed by BullMQ's own next-tick
 * function (cron-parser with the schedule's cron and time zone), the one its job scheduler
 * fires by, so what the API says is when the ticks come. A pure function.
 */
export function nextRuns(cron: string, timezone: string, now: number, count = SCHEDULE_NEXT_RUNS): string[] {
  const runs: string[] = [];
  let after = now;
  for (let i = 0; i < count; i++) {
    const next = getNextMillis(after, { pattern: cron, tz: timezone });
    if (next === undefined || next <= after) break;
    runs.push(new Date(next).toISOString());
    after = next;
  }
  return runs;
}

/** The trigger with its next ticks: a schedule of an active agent has them; a paused agent's schedule and a webhook none. */
export function withNextRuns<T extends Trigger>(trigger: T, agentStatus: AgentStatus, now: number): T {
  const runs = trigger.type === "schedule" && agentStatus === "active" && trigger.cron !== null && trigger.timezone !== null ? nextRuns(trigger.cron, trigger.timezone, now) : [];
  return { ...trigger, nextRunAt: runs[0] ?? null, nextRuns: runs };
}
