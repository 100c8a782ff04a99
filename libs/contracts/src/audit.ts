import { z } from "zod";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";

/** Who an audit entry names (docs/api.md); an operator's events are recorded as a service's. */
export const AuditActor = z.object({ type: z.enum(["user", "api_key", "service"]), id: z.string() });
export type AuditActor = z.infer<typeof AuditActor>;

export const AuditEntry = z.object({
  id: Uuid,
  workspaceId: WorkspaceId,
  seq: z.number().int().min(1),
  actor: AuditActor,
  action: z.string(),
  resourceType: z.string(),
  resourceId: z.string().nullable(),
  changes: z.object({ before: z.unknown(), after: z.unknown() }).nullable(),
  ipAddress: z.string().nullable(),
  userAgent: z.string().nullable(),
  traceId: z.string().nullable(),
  occurredAt: IsoDateTime,
  hash: z.string(),
  prevHash: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditLogQuery = z.object({
  action: z.string().max(200).optional(),
  resourceType: z.string().max(200).optional(),
  resourceId: z.string().max(200).optional(),
  actorId: z.string().max(200).optional(),
  since: IsoDateTime.optional(),
  until: IsoDateTime.optional(),
});
export type AuditLogQuery = z.infer<typeof AuditLogQuery>;

/** A point in a chain: its last entry's (or a checkpoint's) `seq` and `hash`; seq 0 with 64 zeros is genesis. */
export const AuditChainHead = z.object({ seq: z.number().int().min(0), hash: z.string().regex(/^[0-9a-f]{64}$/) });
export type AuditChainHead = z.infer<typeof AuditChainHead>;

/**
 * `audit.logs.verify` (`GET /api/audit-logs/verify`; `galaxy audit verify --workspace`): the
 * caller's workspace, or with an operator claim of the system workspace any `workspaceId`.
 */
export const AuditVerifyRequest = z.object({ workspaceId: WorkspaceId.optional() }).strict();
export type AuditVerifyRequest = z.infer<typeof AuditVerifyRequest>;

/** Why verification stopped: an entry's own hash, its link to the one before, or a missing `seq`. */
export const AuditChainBreak = z.enum(["hash_mismatch", "prev_hash_mismatch", "seq_gap"]);
export type AuditChainBreak = z.infer<typeof AuditChainBreak>;

/**
 * The chain checked end to end from `checkpoint` (where retention left it; null: from
 * genesis). `entries` counts the entries that verified; `head` is the last of them when the
 * chain is valid; otherwise `firstBadSeq` names the first position where it is not intact.
 */
export const AuditVerification = z.object({
  workspaceId: WorkspaceId,
  valid: z.boolean(),
  entries: z.number().int().min(0),
  head: AuditChainHead.nullable(),
  checkpoint: AuditChainHead.nullable(),
  firstBadSeq: z.number().int().min(1).optional(),
  reason: AuditChainBreak.optional(),
});
export type AuditVerification = z.infer<typeof AuditVerification>;

/**
 * `audit.logs.export_page`: one page of an export, oldest first (chain order), after
 * `afterSeq` and through `throughSeq` (the head when the export began, so an export ends
 * even while entries keep arriving).
 */
export const AuditExportPageRequest = AuditLogQuery.extend({
  afterSeq: z.number().int().min(0).default(0),
  throughSeq: z.number().int().min(0).optional(),
  limit: z.number().int().min(1).max(1_000).default(500),
}).strict();
export type AuditExportPageRequest = z.infer<typeof AuditExportPageRequest>;

/** `items` in chain order; `throughSeq` is the bound used, to pass back with the next page. */
export const AuditExportPage = z.object({ items: z.array(AuditEntry), throughSeq: z.number().int().min(0) });
export type AuditExportPage = z.infer<typeof AuditExportPage>;

/** Subscription tiers, as far as the audit log is concerned. */
export const AuditTier = z.enum(["free", "pro", "enterprise"]);
export type AuditTier = z.infer<typeof AuditTier>;

/**
 * How long each tier keeps audit entries, in days (null: for ever): the one place these
 * numbers live. `audit.retention_prune` refuses to remove entries younger than the shortest.
 */
export const AUDIT_RETENTION_DAYS: Readonly<Record<AuditTier, number | null>> = { free: 30, pro: 365, enterprise: null };

/** `audit.retention.apply` (operator claim of the system workspace): applies a tier's retention to one workspace. */
export const AuditRetentionRequest = z.object({ workspaceId: WorkspaceId, tier: AuditTier }).strict();
export type AuditRetentionRequest = z.infer<typeof AuditRetentionRequest>;

/**
 * What a retention run did: entries older than `cutoff` (a prefix of the chain) written to
 * `exportFile`, then removed; `checkpoint` is where the chain now starts. `removed` 0: nothing
 * was old enough (no file, no event).
 */
export const AuditRetentionResult = z.object({
  workspaceId: WorkspaceId,
  tier: AuditTier,
  cutoff: IsoDateTime.nullable(),
  removed: z.number().int().min(0),
  checkpoint: AuditChainHead.nullable(),
  exportFile: z.string().nullable(),
});
export type AuditRetentionResult = z.infer<typeof AuditRetentionResult>;

/** `audit.retention_applied`, in the system workspace: an operator removed a prefix of a workspace's chain. */
export const AuditRetentionApplied = z.object({
  workspaceId: WorkspaceId,
  tier: AuditTier,
  cutoff: IsoDateTime,
  fromSeq: z.number().int().min(1),
  throughSeq: z.number().int().min(1),
  throughHash: z.string(),
  removed: z.number().int().min(1),
  exportFile: z.string(),
});
export type AuditRetentionApplied = z.infer<typeof AuditRetentionApplied>;
