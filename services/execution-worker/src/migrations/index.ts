import type { Migration } from "@galaxy/db";

/** This service's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {};
