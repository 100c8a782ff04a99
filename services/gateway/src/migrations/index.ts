import type { Migration } from "@galaxy/db";
import * as createIdempotencyKeys from "./2026_11_26_00_40_00_create_idempotency_keys";

/** The gateway's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {
  "2026_11_26_00_40_00_create_idempotency_keys": createIdempotencyKeys,
};
