import type { ColumnType, Generated } from "@galaxy/db";

/** A user's identity at an external OIDC issuer; no workspace, so no row-level security. */
export interface ExternalIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: string;
  /** The provider's `updated_at` (ms) of the last applied change; older ones are skipped. */
  source_updated_at: ColumnType<string | null, number | null, number | null>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** Provider webhook deliveries already applied, by `webhook-id`. */
export interface UserSyncDeliveriesTable {
  webhook_id: string;
  type: string;
  user_id: string | null;
  status: string;
  processed_at: Generated<Date>;
}
