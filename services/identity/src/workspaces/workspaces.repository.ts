import { sql, type Kysely, type Transaction } from "@galaxy/db";
import { Role, type Workspace, type WorkspaceDetails, type WorkspaceMembership } from "@galaxy/contracts";
import { z } from "zod";
import type { IdentityDb } from "../db";

export interface Membership {
  workspace: Workspace;
  role: Role;
}

/** Every workspace the user belongs to (a security-definer read: no workspace is chosen yet). */
export async function listMemberships(db: Kysely<IdentityDb> | Transaction<IdentityDb>, userId: string): Promise<Membership[]> {
  const result = await sql<{ workspace_id: string; name: string; slug: string; role: string }>`select * from user_memberships(${userId})`.execute(db);
  return result.rows.map((row) => ({ workspace: { id: row.workspace_id, name: row.name, slug: row.slug }, role: Role.parse(row.role) }));
}

export async function slugTaken(tx: Transaction<IdentityDb>, slug: string): Promise<boolean> {
  const result = await sql<{ taken: boolean }>`select slug_taken(${slug}) as taken`.execute(tx);
  return result.rows[0]?.taken ?? false;
}

export async function insertWorkspace(tx: Transaction<IdentityDb>, workspace: Workspace): Promise<void> {
  await tx.insertInto("workspaces").values({ id: workspace.id, name: workspace.name, slug: workspace.slug, deleted_at: null }).execute();
}

export async function insertMember(tx: Transaction<IdentityDb>, member: { workspaceId: string; userId: string; role: Role }): Promise<void> {
  await tx.insertInto("members").values({ workspace_id: member.workspaceId, user_id: member.userId, role: member.role }).execute();
}

/** The member's current role and overrides in the transaction's workspace, if still a member. */
export async function findMember(tx: Transaction<IdentityDb>, workspaceId: string, userId: string): Promise<{ role: Role; permissions: unknown } | undefined> {
  const row = await tx.selectFrom("members").select(["role", "permissions"]).where("workspace_id", "=", workspaceId).where("user_id", "=", userId).executeTakeFirst();
  return row ? { role: Role.parse(row.role), permissions: row.permissions } : undefined;
}

export async function findWorkspace(tx: Transaction<IdentityDb>, id: string): Promise<Workspace | undefined> {
  return tx.selectFrom("workspaces").select(["id", "name", "slug"]).where("id", "=", id).where("deleted_at", "is", null).executeTakeFirst();
}

/** A URL-safe slug from a workspace name. */
export function slugify(name: string): string {
  const base = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 48)
    // Trimmed after the cut, so a dash at the cut does not end the slug.
    .replace(/^-+|-+$/g, "");
  return base || "workspace";
}

/** Every workspace the user belongs to, with the role and when they joined (security definer, like `listMemberships`). */
export async function listWorkspaceMemberships(db: Kysely<IdentityDb>, userId: string): Promise<WorkspaceMembership[]> {
  const result = await sql<{ workspace_id: string; name: string; slug: string; role: string; joined_at: Date }>`select * from user_memberships(${userId})`.execute(db);
  return result.rows.map((row) => ({ id: row.workspace_id, name: row.name, slug: row.slug, role: Role.parse(row.role), joinedAt: row.joined_at.toISOString() }));
}

const StoredSettings = z.record(z.string(), z.unknown());

/** The transaction's workspace with its settings; `forUpdate` locks the row until the transaction ends. */
export async function findWorkspaceDetails(tx: Transaction<IdentityDb>, id: string, options: { forUpdate?: boolean } = {}): Promise<WorkspaceDetails | undefined> {
  let query = tx.selectFrom("workspaces").select(["id", "name", "slug", "settings", "created_at"]).where("id", "=", id).where("deleted_at", "is", null);
  if (options.forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) return undefined;
  const settings = StoredSettings.safeParse(row.settings);
  return { id: row.id, name: row.name, slug: row.slug, settings: settings.success ? settings.data : {}, createdAt: row.created_at.toISOString() };
}

export async function updateWorkspace(tx: Transaction<IdentityDb>, id: string, changes: { name: string; settings: Record<string, unknown> }): Promise<void> {
  await tx.updateTable("workspaces").set({ name: changes.name, settings: JSON.stringify(changes.settings), updated_at: new Date() }).where("id", "=", id).execute();
}

/** Whether Postgres refused a write for a unique constraint (optionally a named one). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (!(error instanceof Error && "code" in error && error.code === "23505")) return false;
  return constraint === undefined || ("constraint" in error && error.constraint === constraint);
}
