import { CronExpressionParser } from "cron-parser";

/** The time zone of a schedule created without one. */
export const DEFAULT_TIMEZONE = "UTC";

/**
 * Whether a schedule can run: its cron expression (5 fields, or 6 with seconds first) parses
 * and has a next run, and its time zone is an IANA name this runtime knows. Null when both
 * are good, else the problem of each bad field by its name. A pure function.
 */
export function scheduleProblems(cron: string, timezone: string): Record<string, string> | null {
  const problems: Record<string, string> = {};
  const zoneOk = isTimeZone(timezone);
  if (!zoneOk) problems.timezone = `${timezone} is not an IANA time zone (e.g. UTC, Europe/Paris, America/New_York)`;
  const fields = cron.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    problems.cron = "must have 5 fields (minute hour day month weekday), or 6 with seconds first";
  } else {
    try {
      CronExpressionParser.parse(cron, { tz: zoneOk ? timezone : DEFAULT_TIMEZONE, strict: false }).next();
    } catch (error) {
      problems.cron = `is not a valid cron expression: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return Object.keys(problems).length > 0 ? problems : null;
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
