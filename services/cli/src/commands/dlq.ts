import type { Bus } from "@galaxy/bus";
import type { DeadLetter, DeadLetterQuery, DeadLetterRedrive, DeadLetterRedrives } from "@galaxy/contracts";
import { operatorOptions, table } from "./operator";

/** `galaxy dlq list`: newest first. */
export async function listDeadLetters(bus: Bus, query: DeadLetterQuery): Promise<DeadLetter[]> {
  return (await bus.request("audit.dead_letters.list", query, await operatorOptions(bus))).items;
}

/** `galaxy dlq show <id>`. */
export async function showDeadLetter(bus: Bus, id: number): Promise<DeadLetter> {
  return bus.request("audit.dead_letters.get", { id }, await operatorOptions(bus));
}

/** `galaxy dlq redrive <id>`: back to the consumer that failed it; once applied, never again. */
export async function redriveDeadLetter(bus: Bus, id: number): Promise<DeadLetterRedrive> {
  return bus.request("audit.dead_letters.redrive", { id }, await operatorOptions(bus));
}

/** `galaxy dlq redrive --consumer … [--subject …]`: every one not applied yet, oldest first. */
export async function redriveDeadLetters(bus: Bus, consumer: string, subject: string | undefined): Promise<DeadLetterRedrives> {
  return bus.request("audit.dead_letters.redrive_many", { consumer, ...(subject ? { subject } : {}) }, { ...(await operatorOptions(bus)), timeoutMs: 120_000 });
}

export function describeDeadLetters(letters: DeadLetter[]): string {
  if (letters.length === 0) return "No dead letters.";
  return table([
    ["ID", "CONSUMER", "SUBJECT", "DELIVERIES", "FAILED AT", "REDRIVE", "ERROR"],
    ...letters.map((l) => [String(l.id), l.consumer, l.subject, String(l.deliveries), l.failedAt, l.redrive?.outcome ?? "-", l.error.slice(0, 80)]),
  ]);
}

export function describeDeadLetter(letter: DeadLetter): string {
  const lines = [
    `Dead letter ${letter.id} of ${letter.consumer}`,
    `subject:    ${letter.subject}`,
    `event:      ${letter.eventType ?? "?"} ${letter.eventId ?? ""}`.trimEnd(),
    `workspace:  ${letter.workspaceId ?? "?"}`,
    `failed at:  ${letter.failedAt} after ${letter.deliveries} deliveries`,
    `error:      ${letter.error}`,
    `redrive:    ${letter.redrive ? `${letter.redrive.outcome} at ${letter.redrive.at} by ${letter.redrive.by}${letter.redrive.error ? ` (${letter.redrive.error})` : ""}` : "never"}`,
    "headers:",
    ...Object.entries(letter.headers).map(([k, v]) => `  ${k}: ${v}`),
    "payload:",
    JSON.stringify(letter.payload, null, 2),
  ];
  return lines.join("\n");
}

export function describeRedrive(result: DeadLetterRedrive): string {
  return result.outcome === "applied"
    ? `Dead letter ${result.id} was handed back to its consumer and applied.`
    : `Dead letter ${result.id} was handed back to its consumer, which refused it again: ${result.error ?? "no reason given"}. It stays for another redrive.`;
}

export function describeRedrives(result: DeadLetterRedrives): string {
  if (result.redriven.length === 0) return "Nothing to redrive: every matching dead letter was applied already, or there is none.";
  const applied = result.redriven.filter((r) => r.outcome === "applied").length;
  return [`${applied} of ${result.redriven.length} dead letters applied.`, ...result.redriven.filter((r) => r.outcome === "failed").map((r) => `  ${r.id}: ${r.error ?? "refused"}`)].join("\n");
}
