import type { Trigger } from "../../api/types";

/** A tick in the schedule's own time zone (where its cron is read), e.g. "Mon 7 Dec, 09:00". */
function inZone(iso: string, timeZone: string): string {
  return new Date(iso).toLocaleString(undefined, { timeZone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" });
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
