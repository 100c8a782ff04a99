import type { Bus, RequestOptions } from "@galaxy/bus";
import { SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";

/**
 * The request options of an operator request that takes a claim (replays, dead letters, audit
 * verification): identity's operator claim for the CLI on the system workspace. Only the
 * galaxy-cli NATS user may ask for it (infra/nats/).
 */
export async function operatorOptions(bus: Bus): Promise<RequestOptions> {
  const { claim } = await bus.request("identity.operator.claim", {});
  return { claim, workspaceId: SYSTEM_WORKSPACE_ID };
}

/** Rows as aligned columns, the first row the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? [];
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()).join("\n");
}
