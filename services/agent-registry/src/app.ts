import type { Bus } from "@galaxy/bus";
import { isDbReachable, OutboxRelay, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { serveAgents } from "./agents/agents.handlers";
import { AgentsService } from "./agents/agents.service";
import type { RegistryDb } from "./db";

export interface AgentRegistryDeps {
  db: Kysely<RegistryDb>;
  bus: Bus;
  logger: Logger;
}

export interface AgentRegistry {
  agents: AgentsService;
  /** Serves the registry's requests and starts the outbox relay (publishing what a crash left behind). */
  start(): Promise<void>;
  /** Stops the relay once the events being published are acknowledged; the caller stops the bus intake first. */
  stop(): Promise<void>;
  readiness(): Promise<Record<string, boolean>>;
}

/** Builds the agent registry from its dependencies; `main.ts` runs it, tests build it too. */
export function createAgentRegistry(deps: AgentRegistryDeps): AgentRegistry {
  const { db, bus, logger } = deps;
  const relay = new OutboxRelay({ db, publish: (row) => bus.publishEvent(row), logger });
  const agents = new AgentsService({ db, relay });

  return {
    agents,
    async start() {
      serveAgents(bus, agents);
      relay.start();
      await relay.sweep(0);
    },
    async stop() {
      await relay.stop();
    },
    async readiness() {
      return { database: await isDbReachable(db), bus: bus.isConnected() };
    },
  };
}
