import type { Migration, ServiceName } from "@galaxy/db";
import { migrations as agentRegistry } from "../services/agent-registry/src/migrations/index";
import { migrations as audit } from "../services/audit/src/migrations/index";
import { migrations as executionWorker } from "../services/execution-worker/src/migrations/index";
import { migrations as gateway } from "../services/gateway/src/migrations/index";
import { migrations as identity } from "../services/identity/src/migrations/index";

/** Every service's migrations, in the order their schemas are set up. */
export const SERVICE_MIGRATIONS: Array<[ServiceName, Record<string, Migration>]> = [
  ["gateway", gateway],
  ["identity", identity],
  ["agent-registry", agentRegistry],
  ["execution-worker", executionWorker],
  ["audit", audit],
];
