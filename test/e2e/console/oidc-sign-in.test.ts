import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startLocalOidcIssuer, type LocalOidcIssuer } from "@galaxy/testkit";
import { Me } from "@galaxy/contracts";
import { api, dataOf, startGalaxy, type Galaxy } from "../harness";
import { criticalViolations, ensureConsoleBuilt, launchBrowser, openContext, screenshot } from "./browser";

/**
 * The console's sign-in with the OIDC provider in a real browser (docs/console.md): the button
 * the API offers, the round trip through the provider's authorization endpoint (a local issuer
 * that signs the user in at once), and the console signed in on return.
 */
let issuer: LocalOidcIssuer;
let galaxy: Galaxy;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let cspViolations: string[];

beforeAll(async () => {
  await ensureConsoleBuilt();
  issuer = await startLocalOidcIssuer();
  const oidcSignIn = { providerName: "Local IdP", authorizationUrl: issuer.authorizationUrl, tokenUrl: issuer.tokenUrl, clientId: issuer.clientId, scopes: "openid email profile" };
  galaxy = await startGalaxy(inject("engines"), { oidc: { issuer: issuer.issuer, jwksUrl: issuer.jwksUrl }, oidcSignIn });
  browser = await launchBrowser();
  ({ context, page, cspViolations } = await openContext(browser));
}, 240_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await galaxy?.stop();
  await issuer?.close();
});

describe("signing in with the identity provider", () => {
  test("the sign-in page offers the provider the API names", async () => {
    await page.goto(`${galaxy.url}/console/sign-in`);
    await page.getByRole("button", { name: "Sign in with Local IdP" }).waitFor();
    expect(await criticalViolations(page)).toEqual([]);
    await screenshot(page, "sign-in-oidc");
  });

  test("the round trip through the provider lands signed in, as the provider's user", async () => {
    issuer.signInAs({ sub: "user_lin", email: "lin@example.com", email_verified: true, name: "Lin" });
    await page.getByRole("button", { name: "Sign in with Local IdP" }).click();
    await page.waitForURL(`${galaxy.url}/console/agents`);
    await page.getByRole("heading", { name: "Agents" }).waitFor();
    const session = JSON.parse(String(await page.evaluate("sessionStorage.getItem('galaxy.console.session')"))) as { accessToken?: string };
    const me = dataOf(Me, await api(galaxy, "GET", "/api/me", { token: session.accessToken ?? "" }));
    expect(me.user).toMatchObject({ email: "lin@example.com", name: "Lin" });
    // The code was spent and the verifier forgotten: the same return again cannot sign in.
    expect(await page.evaluate("sessionStorage.getItem('galaxy.console.oidc')")).toBeNull();
    expect(cspViolations).toEqual([]);
  });

  test("a return this tab did not start is refused, with a way back", async () => {
    const { context: fresh, page: other } = await openContext(browser);
    try {
      await other.goto(`${galaxy.url}/console/auth/callback?code=forged&state=forged`);
      await other.getByRole("alert").getByText("This sign-in was not started here, or has already been used.").waitFor();
      await other.getByRole("link", { name: "Back to sign in" }).waitFor();
      expect(await criticalViolations(other)).toEqual([]);
    } finally {
      await fresh.close();
    }
  });
});
