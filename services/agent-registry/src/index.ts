export { createAgentRegistry } from "./app";
export type { AgentRegistry, AgentRegistryDeps } from "./app";
export type { RegistryDb } from "./db";
export { migrations } from "./migrations/index";
/** The BullMQ queue of schedule ticks for a bus prefix, and the execution id a tick starts. */
export { scheduleQueueName, tickExecutionId } from "./triggers/schedules";
