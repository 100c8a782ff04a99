import { describe, expect, inject } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { ErrorBody, LoginResult, Me } from "@galaxy/contracts";
import { issuerGalaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, startGalaxy, type Galaxy } from "./harness";

/**
 * The browser sign-in with the OIDC provider (docs/security.md, Browser sign-in): the API says
 * where to send the browser, and trades the provider's code and its PKCE verifier for a Galaxy
 * token. A local issuer plays the provider, signing in whoever the test names.
 */

const REDIRECT = "http://127.0.0.1:1/console/auth/callback";

const Info = z.object({ enabled: z.boolean(), providerName: z.string().nullable(), authorizationUrl: z.string().nullable(), clientId: z.string().nullable(), scopes: z.string().nullable() });

const verifier = () => randomBytes(32).toString("base64url");

/**
 * `galaxy` signs in with the issuer; `plain`, a second Galaxy started beside it, has no sign-in
 * configured. `authorize` walks the provider's authorization endpoint as a browser would and
 * answers the code it redirects back with.
 */
const test = issuerGalaxyTest((issuer) => ({
  oidc: { issuer: issuer.issuer, jwksUrl: issuer.jwksUrl },
  oidcSignIn: { providerName: "Local IdP", authorizationUrl: issuer.authorizationUrl, tokenUrl: issuer.tokenUrl, clientId: issuer.clientId, scopes: "openid email profile" },
}))
  .extend("plain", { scope: "file", auto: true }, async ({}, { onCleanup }): Promise<Galaxy> => {
    const plain = await startGalaxy(inject("engines"));
    onCleanup(() => plain.stop());
    return plain;
  })
  .extend("authorize", { scope: "file" }, async ({ galaxy }) => async (verifier: string, redirectUri = REDIRECT): Promise<string> => {
    const info = dataOf(Info, await api(galaxy, "GET", "/api/auth/oidc"));
    const url = new URL(info.authorizationUrl ?? "");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    for (const [key, value] of Object.entries({ response_type: "code", client_id: info.clientId ?? "", redirect_uri: redirectUri, scope: info.scopes ?? "", state: "s1", code_challenge: challenge, code_challenge_method: "S256" })) {
      url.searchParams.set(key, value);
    }
    const response = await fetch(url, { redirect: "manual" });
    expect(response.status).toBe(302);
    const back = new URL(response.headers.get("location") ?? "");
    expect(back.searchParams.get("state")).toBe("s1");
    return back.searchParams.get("code") ?? "";
  });
startGalaxyFirst(test);

// The second Galaxy starts before the first test too, under the hooks' time limit.
test.beforeAll(async ({ plain }) => {
  void plain;
});

describe("browser sign-in with the OIDC provider", () => {
  test("the API says whether it is configured, and where to send the browser", async ({ galaxy, plain, issuer }) => {
    expect(dataOf(Info, await api(galaxy, "GET", "/api/auth/oidc"))).toEqual({ enabled: true, providerName: "Local IdP", authorizationUrl: issuer.authorizationUrl, clientId: issuer.clientId, scopes: "openid email profile" });
    expect(dataOf(Info, await api(plain, "GET", "/api/auth/oidc"))).toMatchObject({ enabled: false, authorizationUrl: null });
    const off = await api(plain, "POST", "/api/auth/oidc/token", { body: { code: "x", codeVerifier: verifier(), redirectUri: REDIRECT } });
    expect(off.status).toBe(404);
    expect(ErrorBody.parse(off.body).code).toBe("oidc_not_configured");
  });

  test("a code and its verifier become a Galaxy token; the user is created on first sight", async ({ galaxy, issuer, authorize }) => {
    issuer.signInAs({ sub: "user_grace", email: "grace.h@example.com", email_verified: true, name: "Grace" });
    const codeVerifier = verifier();
    const code = await authorize(codeVerifier);
    const response = await api(galaxy, "POST", "/api/auth/oidc/token", { body: { code, codeVerifier, redirectUri: REDIRECT } });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const login = dataOf(LoginResult, response);
    const me = dataOf(Me, await api(galaxy, "GET", "/api/me", { token: login.accessToken }));
    expect(me.user).toMatchObject({ email: "grace.h@example.com", name: "Grace" });
    // The code is spent: the same again is refused.
    const again = await api(galaxy, "POST", "/api/auth/oidc/token", { body: { code, codeVerifier, redirectUri: REDIRECT } });
    expect(again.status).toBe(401);
    expect(ErrorBody.parse(again.body).code).toBe("invalid_authorization_code");
  });

  test("a wrong verifier or another redirect URI is refused by the provider: 401 invalid_authorization_code", async ({ galaxy, issuer, authorize }) => {
    issuer.signInAs({ sub: "user_grace", email: "grace.h@example.com", email_verified: true, name: "Grace" });
    const wrongVerifier = await api(galaxy, "POST", "/api/auth/oidc/token", { body: { code: await authorize(verifier()), codeVerifier: verifier(), redirectUri: REDIRECT } });
    expect(ErrorBody.parse(wrongVerifier.body).code).toBe("invalid_authorization_code");
    const codeVerifier = verifier();
    const otherRedirect = await api(galaxy, "POST", "/api/auth/oidc/token", { body: { code: await authorize(codeVerifier), codeVerifier, redirectUri: "http://127.0.0.1:1/elsewhere" } });
    expect(ErrorBody.parse(otherRedirect.body).code).toBe("invalid_authorization_code");
  });

  test("a verifier that is not one, or a redirect URI that is not a URL, is a 400 before the provider is asked", async ({ galaxy }) => {
    for (const body of [{ code: "c", codeVerifier: "short", redirectUri: REDIRECT }, { code: "c", codeVerifier: verifier(), redirectUri: "not a url" }]) {
      const response = await api(galaxy, "POST", "/api/auth/oidc/token", { body });
      expect(response.status).toBe(400);
      expect(ErrorBody.parse(response.body).code).toBe("validation_failed");
    }
  });
});
