import { z } from "zod";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";

/** Who an audit entry names (CONTRACT §1); an operator's events are recorded as a service's. */
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
