import { describe, expect } from "vitest";
import { createLocalJWKSet, jwtVerify } from "jose";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, CLAIM_ISSUER, GalaxyError } from "@galaxy/contracts";
import { connectTestBus } from "@galaxy/testkit";
import { identityTest, startIdentityFirst } from "../../test/fixtures";

/** identity's fixtures, and `signup`: signs a user up, with a workspace "Analytical Engines", as the gateway would. */
const test = identityTest().extend("signup", { scope: "file" }, async ({ gateway }) => (email: string) =>
  gateway.request("identity.auth.signup", { email, password: "correct horse battery", name: "Ada", workspaceName: "Analytical Engines" }));
startIdentityFirst(test);

describe("sign-up and login", () => {
  test("sign-up creates a user, a workspace it owns and an EdDSA access token", async ({ gateway, signup }) => {
    const result = await signup("ada@example.com");
    expect(result.role).toBe("owner");
    expect(result.workspace.slug).toBe("analytical-engines");
    const jwks = await gateway.request("identity.jwks", {});
    const { payload, protectedHeader } = await jwtVerify(result.accessToken, createLocalJWKSet({ keys: jwks.keys.map((k) => ({ ...k })) }), {
      algorithms: ["EdDSA"],
      issuer: CLAIM_ISSUER,
      audience: ACCESS_TOKEN_AUDIENCE,
      typ: ACCESS_TOKEN_TYP,
    });
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(payload.sub).toBe(result.user.id);
    expect(payload.ws).toBe(result.workspace.id);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBeLessThanOrEqual(15 * 60);
  });

  test("a taken email is a 409, whatever its case", async ({ signup }) => {
    await expect(signup("ADA@example.com")).rejects.toMatchObject({ status: 409, code: "email_taken" });
  });

  test("a second workspace with the same name gets its own slug", async ({ signup }) => {
    const other = await signup("grace@example.com");
    expect(other.workspace.slug).not.toBe("analytical-engines");
    expect(other.workspace.slug.startsWith("analytical-engines-")).toBe(true);
  });

  test("login answers the same 401 for an unknown email and a wrong password", async ({ gateway }) => {
    const wrong = await gateway.request("identity.auth.login", { email: "ada@example.com", password: "not the password" }).catch((e: unknown) => e);
    const unknown = await gateway.request("identity.auth.login", { email: "nobody@example.com", password: "not the password" }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(GalaxyError);
    expect(unknown).toBeInstanceOf(GalaxyError);
    if (!(wrong instanceof GalaxyError) || !(unknown instanceof GalaxyError)) return;
    expect(wrong.toBody()).toEqual(unknown.toBody());
    expect(wrong.status).toBe(401);
  });

  test("login with the right password returns a token for the user's workspace", async ({ gateway }) => {
    const result = await gateway.request("identity.auth.login", { email: "Ada@Example.com", password: "correct horse battery" });
    expect(result.role).toBe("owner");
    expect(result.workspace.name).toBe("Analytical Engines");
  });

  test("bad input is a 400 naming the field", async ({ gateway }) => {
    await expect(gateway.request("identity.auth.signup", { email: "not-an-email", password: "short", name: "x", workspaceName: "y" })).rejects.toMatchObject({
      status: 400,
      details: { email: expect.any(String), password: expect.any(String) },
    });
  });
});

describe("claims", () => {
  test("an access token becomes a claim that the bus accepts for /api/me", async ({ gateway, signup }) => {
    const result = await signup("claims@example.com");
    const { claim } = await gateway.request("identity.claims.issue", { accessToken: result.accessToken });
    const me = await gateway.request("identity.me", {}, { claim, workspaceId: result.workspace.id });
    expect(me.user.email).toBe("claims@example.com");
    expect(me.memberships).toHaveLength(1);
    expect(me.role).toBe("owner");
  });

  test("a request without a claim, or with a forged one, is refused", async ({ gateway, signup }) => {
    await expect(gateway.request("identity.me", {})).rejects.toMatchObject({ status: 401, code: "claim_missing" });
    const result = await signup("forger@example.com");
    const { claim } = await gateway.request("identity.claims.issue", { accessToken: result.accessToken });
    const [header, payload] = claim.split(".");
    const forged = `${header}.${payload}.${Buffer.from("not a signature").toString("base64url")}`;
    await expect(gateway.request("identity.me", {}, { claim: forged })).rejects.toMatchObject({ status: 401, code: "claim_bad_signature" });
  });

  test("an access token is never accepted as a claim", async ({ gateway, signup }) => {
    const result = await signup("typ@example.com");
    await expect(gateway.request("identity.me", {}, { claim: result.accessToken })).rejects.toMatchObject({ status: 401 });
  });
});

describe("concurrent sign-ups", () => {
  test("two sign-ups naming their workspaces alike at once both succeed with distinct slugs", async ({ gateway }) => {
    const results = await Promise.all(
      ["race-1@example.com", "race-2@example.com", "race-3@example.com"].map((email) =>
        gateway.request("identity.auth.signup", { email, password: "correct horse battery", name: "R", workspaceName: "Race Condition" }),
      ),
    );
    const slugs = results.map((r) => r.workspace.slug);
    expect(new Set(slugs).size).toBe(3);
  });

  test("the same email twice at once: one account, one 409", async ({ signup }) => {
    const outcomes = await Promise.allSettled([signup("twice@example.com"), signup("twice@example.com")]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(rejected?.reason).toMatchObject({ status: 409, code: "email_taken" });
  });
});

describe("service claims", () => {
  test("a service gets claims for itself only: its NATS user must be the service it names", async ({ env }) => {
    // The development server has no users and ignores the name; the inbox prefix still carries it.
    const registry = await connectTestBus(env, "agent-registry", { user: "agent-registry", password: "x" });
    try {
      const ws = "0190f5a0-0000-7000-8000-0000000000aa";
      const own = await registry.request("identity.claims.service", { workspaceId: ws, service: "agent-registry" });
      expect(own.claim).toBeTruthy();
      await expect(registry.request("identity.claims.service", { workspaceId: ws, service: "execution-worker" })).rejects.toMatchObject({ status: 403, code: "service_mismatch" });
    } finally {
      await registry.close();
    }
  });
});
