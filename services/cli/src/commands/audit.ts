import type { Bus } from "@galaxy/bus";
import type { ReplyData } from "@galaxy/contracts";
import { operatorOptions } from "./operator";

export type AuditVerification = ReplyData<"audit.logs.verify">;

/** `galaxy audit verify --workspace <id>`: one workspace's hash chain checked end to end. */
export async function verifyAuditLog(bus: Bus, workspaceId: string): Promise<AuditVerification> {
  return bus.request("audit.logs.verify", { workspaceId }, { ...(await operatorOptions(bus)), timeoutMs: 120_000 });
}

export function describeVerification(result: AuditVerification): string {
  if (result.valid) {
    const head = result.head ? ` through seq ${result.head.seq} (${result.head.hash.slice(0, 16)}…)` : "";
    return `Audit log of ${result.workspaceId} is intact: ${result.entries} entries verified${head}.`;
  }
  return `Audit log of ${result.workspaceId} is BROKEN at seq ${result.firstBadSeq ?? "?"} (${result.reason ?? "unknown"}); ${result.entries} entries before it verified.`;
}
