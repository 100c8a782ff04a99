import { inject, test as base } from "vitest";
import { createDb } from "@galaxy/db";
import { startLocalOidcIssuer } from "@galaxy/testkit";
import { startGalaxy } from "../harness";
import { WEBHOOK_SECRET } from "./principals";
import { buildWorld, documentedOperations } from "./world";

/**
 * The matrix's file fixtures: an OIDC issuer of its own, a Galaxy that trusts it (for ID tokens
 * and the browser sign-in) and the Clerk-style webhook secret, the superuser connection the fingerprint reads with, the world
 * (world.ts) and the operations of the gateway's `/openapi.json`.
 */
export const test = base
  .extend("issuer", { scope: "file" }, async ({}, { onCleanup }) => {
    const issuer = await startLocalOidcIssuer();
    onCleanup(() => issuer.close());
    return issuer;
  })
  .extend("galaxy", { scope: "file" }, async ({ issuer }, { onCleanup }) => {
    const oidcSignIn = { providerName: "Local IdP", authorizationUrl: issuer.authorizationUrl, tokenUrl: issuer.tokenUrl, clientId: issuer.clientId, scopes: "openid email profile" };
    const galaxy = await startGalaxy(inject("engines"), { oidc: { issuer: issuer.issuer, jwksUrl: issuer.jwksUrl }, oidcSignIn, oidcWebhookSecrets: [WEBHOOK_SECRET] });
    onCleanup(() => galaxy.stop());
    return galaxy;
  })
  .extend("superuser", { scope: "file" }, async ({ galaxy }, { onCleanup }) => {
    const superuser = createDb<unknown>({ connectionString: galaxy.env.databaseUrl, max: 2 });
    onCleanup(() => superuser.destroy());
    return superuser;
  })
  .extend("world", { scope: "file" }, async ({ galaxy, issuer, superuser }) => buildWorld(galaxy, issuer, superuser))
  .extend("documented", { scope: "file" }, async ({ galaxy }) => documentedOperations(galaxy));
