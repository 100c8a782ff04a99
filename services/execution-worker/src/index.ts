export { createExecutionWorker } from "./app";
export type { ExecutionWorker, ExecutionWorkerConfig, ExecutionWorkerDeps } from "./app";
export type { ExecutionDb } from "./db";
export { migrations } from "./migrations/index";
export { MODEL_PRICES, costUsd, priceOf } from "./executions/pricing";
export type { ModelPrice } from "./executions/pricing";
