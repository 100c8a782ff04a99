import { randomUUID } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  AUDIT_RETENTION_DAYS, SYSTEM_WORKSPACE_ID, type AuditRetentionRequest, type AuditRetentionResult, type WorkspaceClaim,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, sql, type EventContext, type Kysely, type OutboxRow } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { isSystemOperator } from "../admin/security-incidents";
import { readCheckpoint, retainableThrough, toAuditEntry } from "../audit-log/audit-log.repository";
import type { AuditLogService } from "../audit-log/audit-log.service";
import type { AuditDb } from "../db";
import { AuditChainBrokenError, SystemAdminRequiredError } from "../errors";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionDeps {
  db: Kysely<AuditDb>;
  log: AuditLogService;
  logger: Logger;
  /** `AUDIT_EXPORT_DIR`: where removed entries are written, one NDJSON file per run and workspace. */
  exportDir: string;
  /** Hands the run's committed `audit.retention_applied` event to the outbox relay. */
  publishNow: (rows: readonly OutboxRow[]) => void;
  /** The clock (tests move it). */
  now?: () => Date;
}

/**
 * Retention of audit logs per tier (`AUDIT_RETENTION_DAYS`), an operator action
 * (`audit.retention.apply`). For one workspace it:
 * 1. finds the longest prefix of the chain whose entries all occurred before the tier's cutoff;
 * 2. verifies that prefix from the checkpoint, writing it meanwhile to
 *    `<AUDIT_EXPORT_DIR>/<workspace>/<workspace>-<fromSeq>-<throughSeq>.ndjson` (entries as the
 *    API shows them, chain order), flushed to disk and renamed into place only when complete;
 *    a broken prefix is neither exported nor removed (`audit_chain_broken`);
 * 3. removes it through `audit.retention_prune`, which moves the checkpoint to its last entry,
 *    and records `audit.retention_applied` in the system workspace, in one transaction.
 * The chain then verifies from the checkpoint, and the export verifies on its own from the
 * previous checkpoint (its first entry's `prevHash`).
 */
export class RetentionService {
  constructor(private readonly deps: RetentionDeps) {}

  /** @throws {SystemAdminRequiredError} the claim is not an operator claim of the system workspace */
  async apply(claim: WorkspaceClaim, request: AuditRetentionRequest, context: EventContext): Promise<AuditRetentionResult> {
    if (!isSystemOperator(claim)) throw new SystemAdminRequiredError("Only system admins may apply audit retention");
    const { workspaceId, tier } = request;
    const { db } = this.deps;
    const checkpointOf = async () => {
      const checkpoint = await inWorkspace(db, workspaceId, (tx) => readCheckpoint(tx, workspaceId));
      return checkpoint.seq === 0 ? null : checkpoint;
    };
    const days = AUDIT_RETENTION_DAYS[tier];
    const nothing = async (cutoff: Date | null): Promise<AuditRetentionResult> => ({
      workspaceId, tier, cutoff: cutoff?.toISOString() ?? null, removed: 0, checkpoint: await checkpointOf(), exportFile: null,
    });
    if (days === null) return nothing(null);
    const cutoff = new Date((this.deps.now?.() ?? new Date()).getTime() - days * DAY_MS);
    const through = await inWorkspace(db, workspaceId, (tx) => retainableThrough(tx, workspaceId, cutoff));
    if (through === null) return nothing(cutoff);

    const start = await inWorkspace(db, workspaceId, (tx) => readCheckpoint(tx, workspaceId));
    const fromSeq = start.seq + 1;
    const dir = join(this.deps.exportDir, workspaceId);
    // Each run writes (and, when another run removed the prefix first, deletes) a file of its
    // own: two runs at once never write, rename or remove each other's export.
    const file = join(dir, `${workspaceId}-${fromSeq}-${through}-${randomUUID()}.ndjson`);
    const partial = `${file}.partial`;
    await mkdir(dir, { recursive: true });
    const handle = await open(partial, "wx");
    let verification;
    try {
      verification = await this.deps.log.verifyWorkspace(workspaceId, {
        throughSeq: through,
        onPage: async (rows) => {
          await handle.write(rows.map((row) => `${JSON.stringify(toAuditEntry(row))}\n`).join(""));
        },
      });
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (!verification.valid) {
      await rm(partial, { force: true });
      // Another run removed the prefix while this one read it (the checkpoint moved): that run
      // did the work, and this one has nothing left to remove.
      const now = await inWorkspace(db, workspaceId, (tx) => readCheckpoint(tx, workspaceId));
      if (now.seq !== start.seq) return nothing(cutoff);
      throw new AuditChainBrokenError(workspaceId, verification.firstBadSeq, verification.reason);
    }
    await rename(partial, file);
    const last = verification.head;

    const { removed, event } = await inWorkspace(db, SYSTEM_WORKSPACE_ID, async (tx) => {
      const { rows } = await sql<{ removed: string | number }>`
        select audit.retention_prune(${workspaceId}::uuid, ${last.seq}::bigint) as removed`.execute(tx);
      const count = Number(rows[0]?.removed ?? 0);
      if (count === 0) return { removed: 0, event: null };
      const row = await appendEvent(tx, {
        type: "audit.retention_applied",
        workspaceId: SYSTEM_WORKSPACE_ID,
        actor: { type: claim.act, id: claim.sub },
        data: { workspaceId, tier, cutoff: cutoff.toISOString(), fromSeq, throughSeq: last.seq, throughHash: last.hash, removed: count, exportFile: file },
        context,
      });
      return { removed: count, event: row };
    });
    if (!event) {
      // Nothing left to remove (another run got there first): the file is not an export of this run.
      await rm(file, { force: true });
      return nothing(cutoff);
    }
    this.deps.publishNow([event]);
    this.deps.logger.info({ workspaceId, tier, fromSeq, throughSeq: last.seq, removed, exportFile: file }, "audit retention applied");
    return { workspaceId, tier, cutoff: cutoff.toISOString(), removed, checkpoint: await checkpointOf(), exportFile: file };
  }
}
