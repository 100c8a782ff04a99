import { Bus, busConnection } from "@galaxy/bus";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { createLogger } from "@galaxy/observability";
import { provisionDatabase } from "./provision";

/** What Galaxy's NATS configuration allows a message (infra/nats/nats-server.conf). */
const GALAXY_MAX_PAYLOAD = 4 * 1024 * 1024;

/** `make up` / `galaxy migrate`: database, roles, schemas, migrations, streams. */
const env = parseEnv(CommonEnv);
const logger = createLogger({ service: "setup", level: env.LOG_LEVEL });

await provisionDatabase(env.DATABASE_URL, (line) => logger.info(line));
const bus = await Bus.connect({ ...busConnection(env), service: "setup", logger });
await bus.provision();
if (bus.maxPayload < GALAXY_MAX_PAYLOAD) {
  logger.warn(
    { maxPayload: bus.maxPayload, wanted: GALAXY_MAX_PAYLOAD },
    "NATS takes messages of at most max_payload bytes: larger ones are sent gzipped, but a webhook body close to 1 MiB that does not compress is then refused (503), and such an execution cannot be read back (503 reply_too_large). Start nats-server with max_payload 4MB, as infra/nats/nats-server.conf does (docs/operations.md, NATS)",
  );
}
await bus.close();
logger.info({ prefix: env.GALAXY_BUS_PREFIX || "(none)" }, "streams EVENTS and DEAD_LETTERS ready");
