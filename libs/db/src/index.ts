export {
  sql, createDb, createServiceDb, isDbReachable, SERVICE_SCHEMAS, schemaOf, loginRole, ownerRole, withUser, databaseName,
  withLogin, serviceVariable, serviceDatabaseUrl, serviceLoginPassword,
} from "./connection";
export { connectionSettings } from "./tls";
export type { ConnectionSettings, SslMode } from "./tls";
export type { Kysely, ServiceName, DbOptions } from "./connection";
export { atCommit, CommitStatement, inWorkspace, inWorkspaceAtOnce } from "./workspace-tx";
export type { WorkspaceTxOptions } from "./workspace-tx";
export { readInWorkspace } from "./workspace-reads";
export { ensureDatabase, ensureRoles, ensureSchema, bootstrapService } from "./bootstrap";
export { enableWorkspaceRls, createSecurityDefinerFunction, createWorkspaceFunction, migrateService } from "./migrations";
export type { Migration, SecurityDefinerFunction } from "./migrations";
export { appendEvent, createOutbox, insertOutboxRows, outboxRow, OutboxRelay, OUTBOX_RETENTION_MS } from "./outbox";
export { createOutboxRetention, outboxRetentionMigration } from "./outbox-retention";
export { reportCrossWorkspaceAttempt } from "./cross-workspace";
export type { CrossWorkspaceAttempt } from "./cross-workspace";
export { createReplayHoldTables, dropReplayHoldTables, ReplayHolds } from "./replay-holds";
export type { HoldableMessage } from "./replay-holds";
export type { EventContext, OutboxRow, OutboxTable, NewEvent, PublishStored, OutboxRelayOptions } from "./outbox";
export type { Transaction, Selectable, Insertable, Updateable, Generated, ColumnType, RawBuilder, CompiledQuery } from "kysely";
