export { createAgentRegistry } from "./app";
export type { AgentRegistry, AgentRegistryDeps } from "./app";
export type { RegistryDb } from "./db";
export { migrations } from "./migrations/index";
