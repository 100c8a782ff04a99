import { z } from "zod";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { runBusService } from "@galaxy/runtime";
import { createExecutionWorker, DEFAULT_SHUTDOWN_GRACE_MS, ExecutionConcurrency } from "./app";
import { DEFAULT_START_WRITE_DELAY_MS } from "./executions/run-start";
import { callbackSettingsFromEnv } from "./callbacks";
import { MasterKeyEnv } from "./tools/tool-secret";
import type { ExecutionDb } from "./db";

/** The bundled dev model server (`services/dev-model`), used while no provider key is set. */
const DEV_MODEL_URL = "http://127.0.0.1:8089";
const DEV_MODEL_KEY = "galaxy-dev";

const Env = CommonEnv.extend({
  EXECUTION_WORKER_PORT: z.coerce.number().int().min(0).max(65535).default(8083),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url().optional(),
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_BASE_URL: z.url().optional(),
  GOOGLE_API_KEY: z.string().min(1).optional(),
  GOOGLE_BASE_URL: z.url().optional(),
  EXECUTION_CONCURRENCY: ExecutionConcurrency,
  // Connections to Postgres: a run holds one for a statement at a time, never while its model
  // answers. At least 5: a replay hold's live path and its release each keep one while they
  // apply through another (libs/db/src/replay-holds.ts).
  EXECUTION_DB_POOL_SIZE: z.coerce.number().int().min(5).max(1000).default(16),
  MODEL_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  EXECUTION_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(DEFAULT_SHUTDOWN_GRACE_MS),
  // How long a running execution stays this instance's without renewal: after a crash, how soon another instance takes it over.
  EXECUTION_LEASE_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  // How long a claimed run's start waits to be written with its end (docs/decisions/0030); 0 writes it at once.
  EXECUTION_START_WRITE_DELAY_MS: z.coerce.number().int().min(0).max(10_000).default(DEFAULT_START_WRITE_DELAY_MS),
  // How often the galaxy_executions_queue_depth gauge counts the queue.
  QUEUE_DEPTH_INTERVAL_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(15_000),
  OUTBOUND_HOST_ALLOWLIST: z.string().optional(),
  // Webhook tools' signing secrets derive from it (tools/tool-secret.ts); without it they fail.
  GALAXY_MASTER_KEY: MasterKeyEnv.optional(),
  TOOL_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  MAX_TOOL_ROUNDS: z.coerce.number().int().min(0).max(50).default(5),
});

const env = parseEnv(Env);

/**
 * What a stop may take on top of the grace period: requests in hand (`bus.stopIntake`, up to a
 * request timeout), handing executions back, flushing the outbox, draining NATS.
 */
const SHUTDOWN_MARGIN_MS = 20_000;

/**
 * A provider's endpoint: the base URL when given; the provider itself when only a key is
 * (setting the key switches to the real provider, docs/operations.md); else the dev model server.
 */
function endpoint(key: string | undefined, baseUrl: string | undefined, real: string, dev: string): { apiKey: string; baseUrl: string } {
  if (baseUrl) return { apiKey: key ?? DEV_MODEL_KEY, baseUrl };
  if (key) return { apiKey: key, baseUrl: real };
  return { apiKey: DEV_MODEL_KEY, baseUrl: dev };
}

const openai = endpoint(env.OPENAI_API_KEY, env.OPENAI_BASE_URL, "https://api.openai.com/v1", `${DEV_MODEL_URL}/v1`);
const anthropic = endpoint(env.ANTHROPIC_API_KEY, env.ANTHROPIC_BASE_URL, "https://api.anthropic.com", DEV_MODEL_URL);
const google = endpoint(env.GOOGLE_API_KEY, env.GOOGLE_BASE_URL, "https://generativelanguage.googleapis.com", DEV_MODEL_URL);

await runBusService<ExecutionDb>({
  service: "execution-worker",
  env,
  opsPort: env.EXECUTION_WORKER_PORT,
  // Above the grace period, so running executions are handed back rather than left leased.
  shutdownTimeoutMs: env.EXECUTION_SHUTDOWN_GRACE_MS + SHUTDOWN_MARGIN_MS,
  // Not one per running execution: a run holds a connection for one statement at a time.
  dbPoolSize: env.EXECUTION_DB_POOL_SIZE,
  build: ({ db, bus, logger }) =>
    createExecutionWorker({
      db,
      bus,
      logger,
      config: {
        openaiApiKey: openai.apiKey,
        openaiBaseUrl: openai.baseUrl,
        anthropicApiKey: anthropic.apiKey,
        anthropicBaseUrl: anthropic.baseUrl,
        googleApiKey: google.apiKey,
        googleBaseUrl: google.baseUrl,
        concurrency: env.EXECUTION_CONCURRENCY,
        maxRetries: env.MODEL_MAX_RETRIES,
        shutdownGraceMs: env.EXECUTION_SHUTDOWN_GRACE_MS,
        leaseMs: env.EXECUTION_LEASE_MS,
        startWriteDelayMs: env.EXECUTION_START_WRITE_DELAY_MS,
        queueDepthIntervalMs: env.QUEUE_DEPTH_INTERVAL_MS,
        // CALLBACK_* (zod-parsed; a bad value stops the worker naming it), README "Completion callbacks".
        callbacks: callbackSettingsFromEnv(process.env),
        outboundHostAllowlist: env.OUTBOUND_HOST_ALLOWLIST,
        masterKey: env.GALAXY_MASTER_KEY,
        toolTimeoutMs: env.TOOL_TIMEOUT_MS,
        maxToolRounds: env.MAX_TOOL_ROUNDS,
      },
    }),
});
