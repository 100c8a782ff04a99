import type { Migration } from "@galaxy/db";
import * as createIdentity from "./2026_11_26_00_00_00_create_identity";

/** Identity's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {
  "2026_11_26_00_00_00_create_identity": createIdentity,
};
