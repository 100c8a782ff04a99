import type { Migration } from "@galaxy/db";
import * as createAuditLogs from "./2026_11_26_00_30_00_create_audit_logs";
import * as createSecurityIncidents from "./2026_11_26_02_00_00_create_security_incidents";

/** This service's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {
  "2026_11_26_00_30_00_create_audit_logs": createAuditLogs,
  "2026_11_26_02_00_00_create_security_incidents": createSecurityIncidents,
};
