import type { Trigger } from "../../api/types";

/**
 * A tick in the schedule's own time zone (where its cron is read), e.g. "Mon 7 Dec, 09:00", with
 * its year when that is not this year's (a yearly schedule's ticks differ only by it).
 */
function inZone(iso: string, timeZone: string): string {
  const at = new Date(iso);
  const year = (date: Date) => date.toLocaleString("en", { timeZone, year: "numeric" });
  return at.toLocaleString(undefined, {
    timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
    ...(year(at) === year(new Date()) ? {} : { year: "numeric" }),
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** A schedule's next ticks as the API computes them; none while the agent is not active. */
export function NextRuns({ trigger }: { trigger: Trigger }) {
  const runs = trigger.nextRuns ?? [];
  const zone = trigger.timezone ?? "UTC";
  if (runs.length === 0) return <p className="hint">No upcoming runs: the agent is not active, so the schedule does not tick.</p>;
  return (
    <>
      <h4 id={`next-${trigger.id}`}>Next runs ({zone})</h4>
      <ol className="deliveries" aria-labelledby={`next-${trigger.id}`}>
        {runs.map((run) => (
          <li key={run}>
            <time dateTime={run}>{inZone(run, zone)}</time>
          </li>
        ))}
      </ol>
    </>
  );
}
