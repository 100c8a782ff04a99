import type { Migration } from "@galaxy/db";
import * as createExecutions from "./2026_11_26_00_20_00_create_executions";

/** This service's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {
  "2026_11_26_00_20_00_create_executions": createExecutions,
};
