import type { Migration, ServiceName } from "@galaxy/db";
import { migrations as identity } from "../services/identity/src/migrations/index";

/** Every service's migrations, in the order their schemas are set up. */
export const SERVICE_MIGRATIONS: Array<[ServiceName, Record<string, Migration>]> = [
  ["identity", identity],
];
