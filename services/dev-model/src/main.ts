import { z } from "zod";
import { createLogger } from "@galaxy/observability";
import { buildDevModelServer } from "./app";

const Env = z.object({
  DEV_MODEL_PORT: z.coerce.number({ error: "must be a port number" }).int("must be a port number").min(0).max(65_535).default(8089),
  // Loopback by default: the dev model answers anyone who can reach it.
  DEV_MODEL_HOST: z.string().min(1).default("127.0.0.1"),
});

const logger = createLogger({ service: "dev-model" });
const parsed = Env.safeParse(process.env);
if (!parsed.success) {
  logger.fatal({ issues: parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`) }, "invalid configuration");
  process.exit(1);
}
const env = parsed.data;

const app = buildDevModelServer({ logger });

let closing = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, "dev model server closing");
  await app.close();
}
process.once("SIGTERM", (signal) => void shutdown(signal));
process.once("SIGINT", (signal) => void shutdown(signal));

await app.listen({ port: env.DEV_MODEL_PORT, host: env.DEV_MODEL_HOST });
