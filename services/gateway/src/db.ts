import type { Generated } from "@galaxy/db";

export interface IdempotencyKeysTable {
  workspace_id: string;
  principal: string;
  key: string;
  method: string;
  path: string;
  request_hash: string;
  status: number | null;
  response: unknown;
  created_at: Generated<Date>;
  expires_at: Date;
}

/** The `gateway` schema as the gateway sees it. */
export interface GatewayDb {
  idempotency_keys: IdempotencyKeysTable;
}
