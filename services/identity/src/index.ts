export { createIdentity } from "./app";
export type { IdentityDeps, IdentityService } from "./app";
export type { IdentityDb } from "./db";
export type { OidcConfig } from "./oidc/oidc.verifier";
export { migrations } from "./migrations/index";
