import { describe, expect, inject } from "vitest";
import { startLocalOidcIssuer, type LocalOidcIssuer } from "@galaxy/testkit";
import { Me } from "@galaxy/contracts";
import { api, dataOf, startGalaxy, type Galaxy } from "../harness";
import { ensureConsoleBuilt } from "../../support/console-build";
import { consoleTest, criticalViolations, openContext, screenshot } from "./browser";

/**
 * The console's sign-in with the OIDC provider in a real browser (docs/console.md): the button
 * the API offers, the round trip through the provider's authorization endpoint (a local issuer
 * that signs the user in at once), and the console signed in on return.
 */

/**
 * Besides the browser's (`consoleTest`, ./browser.ts), each set up once per file, before its
 * first test, and cleaned up after its last:
 * - `issuer`: the local OIDC issuer, which signs in whom it is told to at once;
 * - `galaxy`: a Galaxy of the file's own (../harness.ts) that trusts `issuer` and offers it on
 *   the sign-in page, started once the console is built.
 */
const test = consoleTest
  .extend("issuer", { scope: "file" }, async ({}, { onCleanup }): Promise<LocalOidcIssuer> => {
    const issuer = await startLocalOidcIssuer();
    onCleanup(() => issuer.close());
    return issuer;
  })
  .extend("galaxy", { scope: "file" }, async ({ issuer }, { onCleanup }): Promise<Galaxy> => {
    await ensureConsoleBuilt();
    const oidcSignIn = { providerName: "Local IdP", authorizationUrl: issuer.authorizationUrl, tokenUrl: issuer.tokenUrl, clientId: issuer.clientId, scopes: "openid email profile" };
    const galaxy = await startGalaxy(inject("engines"), { oidc: { issuer: issuer.issuer, jwksUrl: issuer.jwksUrl }, oidcSignIn });
    onCleanup(() => galaxy.stop());
    return galaxy;
  });
// Building the console and starting Galaxy and Chromium may take minutes: before the first test, under this limit.
test.beforeAll(async ({ galaxy, page }) => {
  void galaxy;
  void page;
}, 240_000);

describe("signing in with the identity provider", () => {
  test("the sign-in page offers the provider the API names", async ({ galaxy, page }) => {
    await page.goto(`${galaxy.url}/console/sign-in`);
    await page.getByRole("button", { name: "Sign in with Local IdP" }).waitFor();
    expect(await criticalViolations(page)).toEqual([]);
    await screenshot(page, "sign-in-oidc");
  });

  test("the round trip through the provider lands signed in, as the provider's user", async ({ issuer, galaxy, page, cspViolations }) => {
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

  test("a return this tab did not start is refused, with a way back", async ({ galaxy, browser }) => {
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
