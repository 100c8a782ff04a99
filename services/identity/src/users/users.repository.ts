import { sql, type Kysely, type Selectable, type Transaction } from "@galaxy/db";
import type { IdentityDb, UsersTable } from "../db";

export type UserRow = Selectable<UsersTable>;

export async function findUserByEmail(db: Kysely<IdentityDb>, email: string): Promise<UserRow | undefined> {
  return db.selectFrom("users").selectAll().where(sql<string>`lower(email)`, "=", email.toLowerCase()).where("deleted_at", "is", null).executeTakeFirst();
}

export async function findUserById(db: Kysely<IdentityDb> | Transaction<IdentityDb>, id: string): Promise<UserRow | undefined> {
  return db.selectFrom("users").selectAll().where("id", "=", id).where("deleted_at", "is", null).executeTakeFirst();
}

export async function insertUser(tx: Transaction<IdentityDb>, user: { id: string; email: string; name: string; passwordHash: string }): Promise<void> {
  await tx.insertInto("users").values({ id: user.id, email: user.email, name: user.name, password_hash: user.passwordHash, deleted_at: null }).execute();
}
