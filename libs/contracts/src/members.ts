import { z } from "zod";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";
import { Email, Workspace } from "./identity";
import { Permissions, Role } from "./roles";

/**
 * A workspace slug as a caller may choose it: 1–63 lowercase letters and digits in groups
 * joined by single dashes (`acme`, `acme-2`), so it is safe in a URL and a DNS label.
 */
export const WorkspaceSlug = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "must be lowercase letters, digits and single dashes, not starting or ending with a dash");
export type WorkspaceSlug = z.infer<typeof WorkspaceSlug>;

/** Free-form workspace settings: a JSON object of at most 16 KiB. */
export const WorkspaceSettings = z
  .record(z.string().min(1).max(100), z.unknown())
  .refine((settings) => JSON.stringify(settings).length <= 16 * 1024, "must be at most 16 KiB of JSON");
export type WorkspaceSettings = z.infer<typeof WorkspaceSettings>;

/** `POST /api/workspaces`: the slug is derived from the name when not given. */
export const CreateWorkspaceBody = z.object({ name: z.string().trim().min(1).max(200), slug: WorkspaceSlug.optional() }).strict();
export type CreateWorkspaceBody = z.infer<typeof CreateWorkspaceBody>;

/**
 * `PATCH /api/workspace`. `settings` is merged key by key into the stored settings; a key
 * set to `null` is removed.
 */
export const UpdateWorkspaceBody = z
  .object({ name: z.string().trim().min(1).max(200).optional(), settings: WorkspaceSettings.optional() })
  .strict()
  .refine((body) => body.name !== undefined || body.settings !== undefined, { message: "send name, settings or both" });
export type UpdateWorkspaceBody = z.infer<typeof UpdateWorkspaceBody>;

/** A workspace as `GET /api/workspace` and `POST /api/workspaces` show it. */
export const WorkspaceDetails = Workspace.extend({ settings: z.record(z.string(), z.unknown()), createdAt: IsoDateTime });
export type WorkspaceDetails = z.infer<typeof WorkspaceDetails>;

/** One of the caller's workspaces in `GET /api/workspaces`. */
export const WorkspaceMembership = Workspace.extend({ role: Role, joinedAt: IsoDateTime });
export type WorkspaceMembership = z.infer<typeof WorkspaceMembership>;

/** A member as `GET /api/members` lists it. */
export const Member = z.object({ userId: Uuid, email: z.string(), name: z.string(), role: Role, permissions: Permissions, joinedAt: IsoDateTime });
export type Member = z.infer<typeof Member>;

/** `POST /api/members`: adds an existing user by email. */
export const AddMemberBody = z.object({ email: Email, role: Role }).strict();
export type AddMemberBody = z.infer<typeof AddMemberBody>;

/** `PATCH /api/members/{userId}`: `permissions`, when sent, replaces the member's overrides. */
export const UpdateMemberBody = z
  .object({ role: Role.optional(), permissions: Permissions.optional() })
  .strict()
  .refine((body) => body.role !== undefined || body.permissions !== undefined, { message: "send role, permissions or both" });
export type UpdateMemberBody = z.infer<typeof UpdateMemberBody>;

export const MemberParams = z.object({ userId: Uuid }).strict();
export type MemberParams = z.infer<typeof MemberParams>;

/** `svc.identity.members.update`: the path's user id with the body. */
export const UpdateMemberRequest = z
  .object({ userId: Uuid, role: Role.optional(), permissions: Permissions.optional() })
  .strict()
  .refine((body) => body.role !== undefined || body.permissions !== undefined, { message: "send role, permissions or both" });
export type UpdateMemberRequest = z.infer<typeof UpdateMemberRequest>;

export const MemberRemoval = z.object({ userId: Uuid, removed: z.literal(true) });
export type MemberRemoval = z.infer<typeof MemberRemoval>;

/** `POST /api/auth/switch`: a token for another of the caller's workspaces. */
export const SwitchWorkspaceBody = z.object({ workspaceId: WorkspaceId }).strict();
export type SwitchWorkspaceBody = z.infer<typeof SwitchWorkspaceBody>;
