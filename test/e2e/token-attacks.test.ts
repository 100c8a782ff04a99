import { describe, expect } from "vitest";
import { createHmac, randomUUID } from "node:crypto";
import { decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { z } from "zod";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, CLAIM_ISSUER, CLAIM_TYP, ErrorBody, HEADER, Jwks, LoginResult, SignupResult } from "@galaxy/contracts";
import { issuerGalaxyTest, PASSWORD, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, identitySigner, type IdentitySigner } from "./harness";

/**
 * Forged and misused bearer tokens on an API route: each is a 401, and each attack is paired
 * with a control built the same way but honest, which is a 200, so a 401 is the attack's doing.
 */
const ROUTE = "/api/agents";

const b64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");
const decodePart = (part: string | undefined): Record<string, unknown> => z.record(z.string(), z.unknown()).parse(JSON.parse(Buffer.from(part ?? "", "base64url").toString("utf8")));
const partsOf = (token: string) => {
  const [header, payload, signature] = token.split(".");
  return { header: decodePart(header), payload: decodePart(payload), signature: signature ?? "" };
};
const nowS = () => Math.floor(Date.now() / 1000);

/**
 * Set up before the first test: the owner of the attacked workspace, and `viewerToken`, a
 * viewer's token in it; `signer` signs with identity's key.
 * `oidc`: the external OIDC issuer Galaxy is configured to trust at `POST /api/auth/exchange`, and there alone.
 * `ownerPayload`: a payload identity would sign for the owner now; `overrides` change single claims.
 * `expect401`, `expect200`: the route's answer to a token.
 */
const test = issuerGalaxyTest((issuer) => ({ oidc: { issuer: issuer.issuer, jwksUrl: issuer.jwksUrl, audience: "galaxy-app" } }), { audience: "galaxy-app" })
  .extend("oidc", { scope: "file" }, async ({ issuer }) => issuer)
  .extend("owner", { scope: "file", auto: true }, async ({ galaxy }) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "owner@example.com", password: PASSWORD, name: "Owner", workspaceName: "Attacked" } })))
  .extend("viewerToken", { scope: "file", auto: true }, async ({ galaxy, owner }) => {
    await api(galaxy, "POST", "/api/auth/signup", { body: { email: "viewer@example.com", password: PASSWORD, name: "Viewer", workspaceName: "Viewer's" } });
    expect((await api(galaxy, "POST", "/api/members", { token: owner.accessToken, body: { email: "viewer@example.com", role: "viewer" } })).status).toBe(201);
    return dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email: "viewer@example.com", password: PASSWORD, workspaceId: owner.workspace.id } })).accessToken;
  })
  .extend("signer", { scope: "file", auto: true }, async ({ galaxy }): Promise<IdentitySigner> => identitySigner(galaxy))
  .extend("ownerPayload", { scope: "file" }, async ({ owner }) => (overrides: JWTPayload = {}): JWTPayload => {
    const iat = nowS();
    return { iss: CLAIM_ISSUER, aud: ACCESS_TOKEN_AUDIENCE, sub: owner.user.id, ws: owner.workspace.id, role: "owner", iat, exp: iat + 600, jti: randomUUID(), ...overrides };
  })
  .extend("expect401", { scope: "file" }, async ({ galaxy }) => async (token: string, code: string): Promise<void> => {
    const response = await api(galaxy, "GET", ROUTE, { token });
    expect(response.status, JSON.stringify(response.body)).toBe(401);
    expect(ErrorBody.parse(response.body)).toMatchObject({ error: "Unauthorized", code });
  })
  .extend("expect200", { scope: "file" }, async ({ galaxy }) => async (token: string): Promise<void> => {
    const response = await api(galaxy, "GET", ROUTE, { token });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
  });
startGalaxyFirst(test);

describe("controls: the tokens the attacks start from are accepted", () => {
  test("identity's own tokens", async ({ galaxy, owner, viewerToken, expect200 }) => {
    await expect200(owner.accessToken);
    await expect200(viewerToken);
    // The viewer's token really is a viewer's: the tampering below is what would lift it.
    expect((await api(galaxy, "POST", ROUTE, { token: viewerToken, body: { name: "x", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } })).status).toBe(403);
  });

  test("a token the test signs with identity's key and the right claims", async ({ signer, ownerPayload, expect200 }) => {
    await expect200(await signer.sign({ typ: ACCESS_TOKEN_TYP }, ownerPayload()));
  });
});

describe("each attack is a 401", () => {
  test("alg none, with and without a signature", async ({ owner, signer, expect401 }) => {
    const { payload } = partsOf(owner.accessToken);
    const header = b64url(JSON.stringify({ alg: "none", typ: ACCESS_TOKEN_TYP, kid: signer.kid }));
    const body = b64url(JSON.stringify(payload));
    await expect401(`${header}.${body}.`, "invalid_token");
    await expect401(`${header}.${body}.${partsOf(owner.accessToken).signature}`, "invalid_token");
  });

  test("HS256 keyed with the public key (the JWKS's x, as text and as bytes)", async ({ galaxy, owner, signer, expect401 }) => {
    const jwks = Jwks.parse((await api(galaxy, "GET", "/.well-known/jwks.json")).body);
    const key = jwks.keys.find((k) => k.kid === signer.kid);
    const x = z.object({ x: z.string() }).parse(key).x;
    const { payload } = partsOf(owner.accessToken);
    for (const secret of [Buffer.from(x, "utf8"), Buffer.from(x, "base64url"), Buffer.from(JSON.stringify(key), "utf8")]) {
      const signingInput = `${b64url(JSON.stringify({ alg: "HS256", typ: ACCESS_TOKEN_TYP, kid: signer.kid }))}.${b64url(JSON.stringify(payload))}`;
      const mac = createHmac("sha256", secret).update(signingInput).digest("base64url");
      await expect401(`${signingInput}.${mac}`, "invalid_token");
    }
  });

  test("a changed payload under the old signature (viewer → owner, or another workspace)", async ({ viewerToken, expect401, expect200 }) => {
    const { header, payload, signature } = partsOf(viewerToken);
    expect(payload.role).toBe("viewer");
    const encodedHeader = viewerToken.split(".")[0];
    for (const changed of [{ ...payload, role: "owner" }, { ...payload, ws: randomUUID() }, { ...payload, exp: nowS() + 86_400 }]) {
      await expect401(`${encodedHeader}.${b64url(JSON.stringify(changed))}.${signature}`, "invalid_token");
    }
    // Re-encoding the unchanged header and payload keeps the signature valid: the change is what fails.
    expect(header.typ).toBe(ACCESS_TOKEN_TYP);
    await expect200(`${encodedHeader}.${b64url(JSON.stringify(payload))}.${signature}`);
  });

  test("an expired token, signed by identity's key", async ({ signer, ownerPayload, expect401 }) => {
    await expect401(await signer.sign({ typ: ACCESS_TOKEN_TYP }, ownerPayload({ iat: nowS() - 20 * 60, exp: nowS() - 5 * 60 })), "token_expired");
  });

  test("a wrong audience (also the bus's), issuer or typ, signed by identity's key", async ({ signer, ownerPayload, expect401 }) => {
    await expect401(await signer.sign({ typ: ACCESS_TOKEN_TYP }, ownerPayload({ aud: "galaxy-bus" })), "invalid_token");
    await expect401(await signer.sign({ typ: ACCESS_TOKEN_TYP }, ownerPayload({ aud: "someone-else" })), "invalid_token");
    await expect401(await signer.sign({ typ: ACCESS_TOKEN_TYP }, ownerPayload({ iss: "https://evil.example.com" })), "invalid_token");
    for (const typ of ["JWT", CLAIM_TYP, "at+JWT ", undefined]) await expect401(await signer.sign({ typ }, ownerPayload()), "invalid_token");
  });

  test("a workspace claim presented as an access token", async ({ galaxy, owner, expect401 }) => {
    // One read off the bus, from the Gx-Claim header of the event the owner's own request caused.
    const claims: string[] = [];
    galaxy.observer.watch(`evt.${owner.workspace.id}.agent.created`, (msg) => void claims.push(msg.headers?.get(HEADER.claim) ?? ""));
    await galaxy.observer.flush();
    expect((await api(galaxy, "POST", ROUTE, { token: owner.accessToken, body: { name: "Claimed", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } })).status).toBe(201);
    const onEvent = await eventually(async () => claims[0], 5_000, "the agent.created event");
    expect(decodeProtectedHeader(onEvent).typ).toBe(CLAIM_TYP);
    await expect401(onEvent, "invalid_token");
    const { claim } = await galaxy.observer.request("identity.claims.issue", { accessToken: owner.accessToken });
    expect(decodeProtectedHeader(claim).typ).toBe(CLAIM_TYP);
    await expect401(claim, "invalid_token");
    // Nor a service claim, which would otherwise speak for the whole workspace.
    const service = await galaxy.observer.request("identity.claims.service", { workspaceId: owner.workspace.id, service: "execution-worker" });
    expect(decodeProtectedHeader(service.claim).typ).toBe(CLAIM_TYP);
    await expect401(service.claim, "invalid_token");
  });

  test("a token of the configured external issuer, which the exchange accepts, is refused on API routes", async ({ galaxy, oidc, ownerPayload, expect401, expect200 }) => {
    const idToken = await oidc.sign({ sub: "user_2external", email: "external@example.com", email_verified: true, name: "External" });
    // Control: the token is genuine, and trades for a Galaxy token at the exchange.
    const exchanged = await api(galaxy, "POST", "/api/auth/exchange", { body: { idToken } });
    expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200);
    await expect200(dataOf(LoginResult, exchanged).accessToken);
    await expect401(idToken, "invalid_token");
    // Nor when it copies Galaxy's issuer, audience and typ: RS256 and its key are the issuer's alone.
    await expect401(await oidc.sign(ownerPayload(), { issuer: CLAIM_ISSUER, audience: ACCESS_TOKEN_AUDIENCE, header: { typ: ACCESS_TOKEN_TYP } }), "invalid_token");
  });

  test("an RS256 token of an issuer nobody configured", async ({ ownerPayload, expect401 }) => {
    const { privateKey } = await generateKeyPair("RS256");
    const external = (payload: JWTPayload, typ: string) => new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid: "ins_external", typ }).sign(privateKey);
    await expect401(await external({ iss: "https://clerk.example.com", aud: ACCESS_TOKEN_AUDIENCE, sub: "user_2abc", iat: nowS(), exp: nowS() + 600 }, "JWT"), "invalid_token");
    await expect401(await external(ownerPayload(), ACCESS_TOKEN_TYP), "invalid_token");
  });

  test("a kid that is not in the JWKS: a stranger's Ed25519 key, and identity's key under another kid", async ({ galaxy, signer, ownerPayload, expect401 }) => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const jwks = Jwks.parse((await api(galaxy, "GET", "/.well-known/jwks.json")).body);
    const strangerKid = randomUUID();
    expect(jwks.keys.map((k) => k.kid)).not.toContain(strangerKid);
    expect((await exportJWK(publicKey)).x).not.toBe(z.object({ x: z.string() }).parse(jwks.keys[0]).x);
    const forged = await new SignJWT(ownerPayload()).setProtectedHeader({ alg: "EdDSA", kid: strangerKid, typ: ACCESS_TOKEN_TYP }).sign(privateKey);
    await expect401(forged, "invalid_token");
    // A stranger's key reusing identity's kid fails its signature check.
    await expect401(await new SignJWT(ownerPayload()).setProtectedHeader({ alg: "EdDSA", kid: signer.kid, typ: ACCESS_TOKEN_TYP }).sign(privateKey), "invalid_token");
    await expect401(await signer.sign({ typ: ACCESS_TOKEN_TYP, kid: randomUUID() }, ownerPayload()), "invalid_token");
  });

  test("garbage in the bearer slot", async ({ owner, expect401 }) => {
    for (const token of ["x", "a.b.c", `${owner.accessToken}.extra`, owner.accessToken.slice(0, -1)]) await expect401(token, "invalid_token");
  });
});
