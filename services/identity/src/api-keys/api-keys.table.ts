import type { Generated, Selectable } from "@galaxy/db";

/** `identity.api_keys`: one row per key, the key itself kept only as its SHA-256. */
export interface ApiKeysTable {
  id: string;
  workspace_id: string;
  name: string;
  role: string;
  prefix: string;
  key_hash: string;
  created_by: string;
  created_at: Generated<Date>;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
