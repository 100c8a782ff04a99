export { buildGateway, BODY_LIMIT } from "./app";
export type { GatewayDeps } from "./app";
export { migrations } from "./migrations/index";
export { apiDocument } from "./openapi/document";
