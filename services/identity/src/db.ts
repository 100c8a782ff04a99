import type { ColumnType, Generated, OutboxTable } from "@galaxy/db";
import type { ApiKeysTable } from "./api-keys/api-keys.table";
import type { ProviderCredentialsTable } from "./credentials/credentials.table";
import type { ExternalIdentitiesTable, UserSyncDeliveriesTable } from "./oidc/oidc.table";

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  system_admin: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Date | null;
}

export interface WorkspacesTable {
  id: string;
  workspace_id: ColumnType<string, never, never>;
  name: string;
  slug: string;
  settings: Generated<unknown>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Date | null;
}

export interface MembersTable {
  workspace_id: string;
  user_id: string;
  role: string;
  permissions: Generated<unknown>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: unknown;
  private_jwk_ciphertext: string;
  status: "pending" | "active" | "retired" | "revoked";
  created_at: Generated<Date>;
  retired_at: Date | null;
  /** When a pending key starts signing. */
  activates_at: Date | null;
  revoked_at: Date | null;
}

/** The `identity` schema as the service sees it. */
export interface IdentityDb {
  users: UsersTable;
  workspaces: WorkspacesTable;
  members: MembersTable;
  signing_keys: SigningKeysTable;
  api_keys: ApiKeysTable;
  provider_credentials: ProviderCredentialsTable;
  external_identities: ExternalIdentitiesTable;
  user_sync_deliveries: UserSyncDeliveriesTable;
  outbox: OutboxTable;
}
