import type { Bus } from "@galaxy/bus";
import type { RerunExecutionsRequest, RerunExecutionsResult } from "@galaxy/contracts";
import { operatorOptions } from "./operator";

/**
 * `galaxy executions rerun`: one agent's failed executions started again as new ones (trigger
 * `replay`, linked to the original); with `dryRun`, only the count.
 */
export async function rerunExecutions(bus: Bus, request: RerunExecutionsRequest): Promise<RerunExecutionsResult> {
  return bus.request("execution.rerun", request, { ...(await operatorOptions(bus)), timeoutMs: 120_000 });
}

export function describeRerun(result: RerunExecutionsResult): string {
  if (result.workspaceId === null) return "No such agent: nothing to re-run.";
  const already = result.alreadyRerun > 0 ? ` (${result.alreadyRerun} re-run before, left alone)` : "";
  if (result.dryRun) return `${result.matched} executions would be re-run in workspace ${result.workspaceId}${already}. Run again without --dry-run to start them.`;
  const lines = [`${result.started.length} of ${result.matched} executions re-run in workspace ${result.workspaceId}${already}.`];
  for (const s of result.started) lines.push(`  ${s.originalId} -> ${s.executionId}`);
  for (const f of result.failed) lines.push(`  ${f.originalId}: not started (${f.code}: ${f.message})`);
  return lines.join("\n");
}
