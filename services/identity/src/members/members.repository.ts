import { sql, type Kysely, type Transaction } from "@galaxy/db";
import { Permissions, Role, type Member } from "@galaxy/contracts";
import type { IdentityDb } from "../db";

// Every function here runs inside `inWorkspace`: row-level security already narrows `members`
// to the transaction's workspace, and the explicit filter says so to the reader. `users` has
// no workspace column; joining it only names the members the policy lets through.

function memberQuery(tx: Transaction<IdentityDb>, workspaceId: string) {
  return tx
    .selectFrom("members")
    .innerJoin("users", "users.id", "members.user_id")
    .select(["members.user_id", "users.email", "users.name", "members.role", "members.permissions", "members.created_at"])
    .where("members.workspace_id", "=", workspaceId);
}

type MemberRow = { user_id: string; email: string; name: string; role: string; permissions: unknown; created_at: Date };

function toMember(row: MemberRow): Member {
  const permissions = Permissions.safeParse(row.permissions);
  return { userId: row.user_id, email: row.email, name: row.name, role: Role.parse(row.role), permissions: permissions.success ? permissions.data : {}, joinedAt: row.created_at.toISOString() };
}

/** A page of the workspace's members, oldest first. */
export async function listMembers(tx: Transaction<IdentityDb>, workspaceId: string, page: { limit: number; offset: number }): Promise<{ items: Member[]; total: number }> {
  const rows = await memberQuery(tx, workspaceId).orderBy("members.created_at").orderBy("members.user_id").limit(page.limit).offset(page.offset).execute();
  const count = await tx.selectFrom("members").select((eb) => eb.fn.countAll<string>().as("n")).where("workspace_id", "=", workspaceId).executeTakeFirstOrThrow();
  return { items: rows.map(toMember), total: Number(count.n) };
}

/** One member; `forUpdate` locks its row until the transaction ends. */
export async function getMember(tx: Transaction<IdentityDb>, workspaceId: string, userId: string, options: { forUpdate?: boolean } = {}): Promise<Member | undefined> {
  let query = memberQuery(tx, workspaceId).where("members.user_id", "=", userId);
  if (options.forUpdate) query = query.forUpdate("members");
  const row = await query.executeTakeFirst();
  return row ? toMember(row) : undefined;
}

/**
 * Locks the workspace's owner rows (in a fixed order, so two callers never deadlock) and
 * returns their user ids. Every change that could take away an owner takes this lock first,
 * so two concurrent demotions of the last two owners cannot both see "another owner is left".
 */
export async function lockOwners(tx: Transaction<IdentityDb>, workspaceId: string): Promise<string[]> {
  const rows = await tx.selectFrom("members").select("user_id").where("workspace_id", "=", workspaceId).where("role", "=", "owner").orderBy("user_id").forUpdate().execute();
  return rows.map((row) => row.user_id);
}

export async function setMemberAccess(tx: Transaction<IdentityDb>, workspaceId: string, userId: string, access: { role: Role; permissions: Permissions }): Promise<void> {
  await tx
    .updateTable("members")
    .set({ role: access.role, permissions: JSON.stringify(access.permissions), updated_at: new Date() })
    .where("workspace_id", "=", workspaceId)
    .where("user_id", "=", userId)
    .execute();
}

export async function deleteMember(tx: Transaction<IdentityDb>, workspaceId: string, userId: string): Promise<void> {
  await tx.deleteFrom("members").where("workspace_id", "=", workspaceId).where("user_id", "=", userId).execute();
}

/** Adds a member unless the user already is one; false when nothing was inserted. */
export async function insertMemberIfAbsent(tx: Transaction<IdentityDb>, member: { workspaceId: string; userId: string; role: Role }): Promise<boolean> {
  const result = await tx
    .insertInto("members")
    .values({ workspace_id: member.workspaceId, user_id: member.userId, role: member.role })
    .onConflict((oc) => oc.columns(["workspace_id", "user_id"]).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/** Whether the user is a member of a workspace other than this one (a security-definer yes or no). */
export async function memberExistsElsewhere(db: Kysely<IdentityDb>, userId: string, workspaceId: string): Promise<boolean> {
  const result = await sql<{ found: boolean }>`select member_exists_elsewhere(${userId}, ${workspaceId}) as found`.execute(db);
  return result.rows[0]?.found ?? false;
}
