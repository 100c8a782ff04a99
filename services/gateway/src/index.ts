export { buildGateway, BODY_LIMIT } from "./app";
export type { GatewayDeps } from "./app";
export type { GatewayDb } from "./db";
export type { OidcSignIn } from "./auth/oidc-sign-in";
export { migrations } from "./migrations/index";
export { apiDocument } from "./openapi/document";
/** The default `/api/*` limits, and where an operator sets a workspace's rate tier in Redis (docs/api.md, Rate limits). */
export { API_RATE_LIMITS } from "./http/rate-limit";
export { RATE_TIERS_KEY } from "./http/request-leases";
export type { ApiRateLimitOptions, RateLimits } from "./http/rate-limit";
export { CONSOLE_CSP, CONSOLE_DIST } from "./http/console";
