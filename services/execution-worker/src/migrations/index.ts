import type { Migration } from "@galaxy/db";
import * as createExecutions from "./2026_11_26_00_20_00_create_executions";
import * as createExistsElsewhere from "./2026_11_26_01_50_00_create_exists_elsewhere";

/** This service's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {
  "2026_11_26_00_20_00_create_executions": createExecutions,
  "2026_11_26_01_50_00_create_exists_elsewhere": createExistsElsewhere,
};
