export { createExecutionWorker, ExecutionConcurrency, WAKE_SUBJECT } from "./app";
export type { ExecutionWorker, ExecutionWorkerConfig, ExecutionWorkerDeps } from "./app";
export type { ExecutionDb } from "./db";
export { migrations } from "./migrations/index";
export { MODEL_PRICES, costUsd, priceOf } from "./executions/pricing";
export type { ModelPrice } from "./executions/pricing";
export { TIERS, Tier } from "./quota/tiers";
export type { TierLimits } from "@galaxy/contracts";
/** A tier written straight into the worker's table, unrecorded: for tests and benchmarks; operators use `galaxy tiers set`. */
export { setTier } from "./quota/quota.repository";
/** The durable consumer of the worker's agent projection: its dead letters are `dlq.<this>.…`. */
export { AGENT_PROJECTION_CONSUMER } from "./agents/agents.projection";
/** The secret a tool verifies the worker's calls with, as `GET /api/agents/{id}/tool-secret` answers it. */
export { webhookToolSecret } from "./tools/tool-secret";
