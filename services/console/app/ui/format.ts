/** How the console writes times, durations, money and ids. */

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatCost(usd: number): string {
  return usd === 0 ? "$0" : usd < 0.01 ? `$${usd.toFixed(6)}` : `$${usd.toFixed(4)}`;
}

/**
 * An id short enough for a table cell that still tells rows apart: Galaxy's ids are UUIDv7, whose
 * first eight digits are the time (the same for every id made within a minute or so), so the
 * last four are kept too. Any other id (a service's name) is shown whole.
 */
export function shortId(id: string): string {
  return UUID.test(id) ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "null";
}
