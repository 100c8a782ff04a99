import { z } from "zod";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { runBusService } from "@galaxy/runtime";
import { createAgentRegistry } from "./app";
import type { RegistryDb } from "./db";

const env = parseEnv(CommonEnv.extend({ AGENT_REGISTRY_PORT: z.coerce.number().int().min(0).max(65535).default(8082) }));

await runBusService<RegistryDb>({
  service: "agent-registry",
  env,
  opsPort: env.AGENT_REGISTRY_PORT,
  build: ({ db, bus, logger }) => createAgentRegistry({ db, bus, logger }),
});
