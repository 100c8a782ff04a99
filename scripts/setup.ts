import { Bus, busConnection } from "@galaxy/bus";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { createLogger } from "@galaxy/observability";
import { provisionDatabase } from "./provision";

/** `make up` / `galaxy migrate`: database, roles, schemas, migrations, streams. */
const env = parseEnv(CommonEnv);
const logger = createLogger({ service: "setup", level: env.LOG_LEVEL });

await provisionDatabase(env.DATABASE_URL, (line) => logger.info(line));
const bus = await Bus.connect({ ...busConnection(env), service: "setup", logger });
await bus.provision();
await bus.close();
logger.info({ prefix: env.GALAXY_BUS_PREFIX || "(none)" }, "streams EVENTS and DEAD_LETTERS ready");
