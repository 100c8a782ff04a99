import type { Bus } from "@galaxy/bus";
import { requireReplayRunner } from "@galaxy/contracts";
import { isDbReachable, OutboxRelay, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { SecretBox } from "@galaxy/secrets";
import { serveAgents } from "./agents/agents.handlers";
import { AgentsService } from "./agents/agents.service";
import type { RegistryDb } from "./db";
import { consumeDocuments, DOCUMENT_INDEXER, serveKnowledge } from "./knowledge/knowledge.handlers";
import { createKnowledge, type KnowledgeSettings } from "./knowledge/knowledge.module";
import type { KnowledgeService } from "./knowledge/knowledge.service";
import { ScheduleRunner, type ScheduleRunnerOptions } from "./triggers/schedules";
import { serveTriggers } from "./triggers/triggers.handlers";
import { TriggersService } from "./triggers/triggers.service";

export interface AgentRegistryDeps {
  db: Kysely<RegistryDb>;
  bus: Bus;
  logger: Logger;
  /** `GALAXY_MASTER_KEY`: seals the secrets the registry keeps (completion-callback secrets). */
  masterKey: string;
  /** `GALAXY_MASTER_KEY_PREVIOUS`: retired master keys, so what they sealed still opens. */
  previousMasterKeys?: readonly string[] | undefined;
  /** Redis for schedule triggers (BullMQ); without it schedules are kept but do not tick in this process. */
  schedules?: ScheduleRunnerOptions | undefined;
  /** Knowledge bases: embedding endpoint and vector store (default: the dev model server and Postgres). */
  knowledge?: KnowledgeSettings | undefined;
}

export interface AgentRegistry {
  agents: AgentsService;
  triggers: TriggersService;
  knowledge: KnowledgeService;
  /** Runs schedule triggers; absent without `schedules` options. */
  schedules: ScheduleRunner | undefined;
  /** Serves the registry's requests and starts the outbox relay (publishing what a crash left behind). */
  start(): Promise<void>;
  /** Stops the relay once the events being published are acknowledged; the caller stops the bus intake first. */
  stop(): Promise<void>;
  readiness(): Promise<Record<string, boolean>>;
}

/** Builds the agent registry from its dependencies; `main.ts` runs it, tests build it too. */
export function createAgentRegistry(deps: AgentRegistryDeps): AgentRegistry {
  const { db, bus, logger } = deps;
  const relay = new OutboxRelay({ db, publish: (row) => bus.publishEvent(row), logger, metrics: bus.registry });
  const box = new SecretBox(deps.masterKey, deps.previousMasterKeys);
  const agents = new AgentsService({ db, relay, box });
  const schedules = deps.schedules ? new ScheduleRunner({ db, bus, logger, options: deps.schedules }) : undefined;
  const triggers = new TriggersService({ db, relay, box, schedules, logger });
  const knowledge = createKnowledge({ db, bus, relay, logger, settings: deps.knowledge ?? {} });

  return {
    agents,
    triggers,
    knowledge: knowledge.service,
    schedules,
    async start() {
      serveAgents(bus, agents);
      serveTriggers(bus, triggers);
      serveKnowledge(bus, knowledge.service);
      knowledge.listen();
      await consumeDocuments(bus, knowledge.service);
      // A dead letter of the document indexer, handed back by audit (docs/replay.md): its own handler, after the usual checks.
      bus.serve("registry.dlq.redrive", async (request, ctx) => {
        requireReplayRunner(ctx.claim);
        if (request.consumer !== DOCUMENT_INDEXER) return { outcome: "failed" as const, error: `the registry runs no consumer named ${request.consumer}` };
        try {
          await bus.deliver(request.consumer, request.message);
          return { outcome: "applied" as const, error: null };
        } catch (error) {
          return { outcome: "failed" as const, error: error instanceof Error ? error.message : String(error) };
        }
      });
      relay.start();
      await relay.sweep(0);
      await schedules?.start();
    },
    async stop() {
      knowledge.stop();
      await schedules?.stop();
      await relay.stop();
    },
    async readiness() {
      return { database: await isDbReachable(db), bus: bus.isConnected() };
    },
  };
}
