import type { Migration, ServiceName } from "@galaxy/db";
import { migrations as agentRegistry } from "@galaxy/agent-registry/migrations";
import { migrations as audit } from "@galaxy/audit/migrations";
import { migrations as executionWorker } from "@galaxy/execution-worker/migrations";
import { migrations as gateway } from "@galaxy/gateway/migrations";
import { migrations as identity } from "@galaxy/identity/migrations";

/** Every service's migrations, in the order their schemas are set up. */
export const SERVICE_MIGRATIONS: Array<[ServiceName, Record<string, Migration>]> = [
  ["gateway", gateway],
  ["identity", identity],
  ["agent-registry", agentRegistry],
  ["execution-worker", executionWorker],
  ["audit", audit],
];
