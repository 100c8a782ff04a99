import { Bus } from "@galaxy/bus";
import { createServiceDb, type Kysely, type ServiceName } from "@galaxy/db";
import { createLogger, type Logger } from "@galaxy/observability";
import type { TestEnv } from "./env";

export function testLogger(service: string): Logger {
  return createLogger({ service, level: process.env.LOG_LEVEL ?? "silent" });
}

/** A bus connection of the test's own prefix, as `service` would open it. */
export async function connectTestBus(env: TestEnv, service: string, options: Partial<Parameters<typeof Bus.connect>[0]> = {}): Promise<Bus> {
  const bus = await Bus.connect({ url: env.natsUrl, prefix: env.busPrefix, service, logger: testLogger(service), requestTimeoutMs: 5_000, ...options });
  await bus.provision();
  return bus;
}

/** The service's own login-role connection to the test's database. */
export function serviceDb<DB>(env: TestEnv, service: ServiceName): Kysely<DB> {
  return createServiceDb<DB>(env.databaseUrl, service, { max: 5 });
}
