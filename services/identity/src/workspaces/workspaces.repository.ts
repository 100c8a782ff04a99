import { sql, type Kysely, type Transaction } from "@galaxy/db";
import { Role, type Workspace } from "@galaxy/contracts";
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
    .replace(/^-+|-+$/g, "")
    .slice(0, 48);
  return base || "workspace";
}
