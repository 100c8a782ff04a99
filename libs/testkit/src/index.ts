export { resolveEngines } from "./engines";
export type { Engines } from "./engines";
export { cloneDatabase, createDatabase, dropDatabase } from "./database";
export { freePort } from "./ports";
export { createTestEnv, TEMPLATE_DATABASE } from "./env";
export type { TestEnv, EngineUrls } from "./env";
export { connectTestBus, serviceDb, testLogger } from "./service";
export { TestClaims } from "./claims";
export type { ClaimInput } from "./claims";
