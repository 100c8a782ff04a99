import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import type { Bus } from "@galaxy/bus";
import { SignupResult, type Agent } from "@galaxy/contracts";
import { connectCli, grantSystemAdmin, parseCliEnv } from "@galaxy/cli";
import { connectTestBus } from "@galaxy/testkit";
import { api, dataOf, type Galaxy } from "../harness";
import { consoleGalaxyTest, screenshot } from "./browser";
import { PASSWORD } from "../fixtures";

/** The console's operator pages for a system admin: a dry-run replay first, then a dead letter redriven (docs/replay.md). */

const signup = async (galaxy: Galaxy, email: string) =>
  dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email, password: PASSWORD, name: email.split("@")[0], workspaceName: `${email.split("@")[0]}'s` } }));

/** An event whose claim no key of identity signed: audit refuses it and dead-letters it. */
async function publishForgedEvent(publisher: Bus): Promise<string> {
  const ws = randomUUID();
  const id = randomUUID();
  const now = new Date().toISOString();
  const agent: Agent = {
    id: randomUUID(), workspaceId: ws, name: "Forged", description: null, provider: "openai", model: "galaxy-dev-echo", systemPrompt: "x", temperature: null, maxTokens: null,
    tools: [], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null, status: "draft", version: 1, createdBy: randomUUID(), createdAt: now, updatedAt: now,
  };
  await publisher.publishEvent({
    id,
    workspaceId: ws,
    type: "agent.created",
    schemaVersion: 1,
    payload: { id, type: "agent.created", occurredAt: now, workspaceId: ws, actor: { type: "user", id: agent.createdBy }, data: { agent } },
    context: { claim: "not.a.claim", traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`, correlationId: id, causationId: id },
  });
  return `evt.${ws}.agent.created`;
}

/**
 * Besides the browser's and Galaxy's (`consoleGalaxyTest`, ./browser.ts: `galaxy`, `browser`,
 * `page`, `expectAccessible`), each set up once per file, before its first test, and cleaned up
 * after its last:
 * - `users`: Ada, a system admin (granted with the CLI), and Bob, a member only, each signed up
 *   with a workspace of their own;
 * - `publisher`: a bus connection as the agent registry, to publish events by hand;
 * - `signIn`: signs a user in on `page`, by email; `nav`: the console's primary navigation.
 */
const test = consoleGalaxyTest
  .extend("users", { scope: "file" }, async ({ galaxy }): Promise<{ ada: SignupResult; bob: SignupResult }> => {
    const ada = await signup(galaxy, "ada@example.com");
    const bob = await signup(galaxy, "bob@example.com");
    const cli = await connectCli(parseCliEnv({ NATS_URL: galaxy.env.natsUrl, GALAXY_BUS_PREFIX: galaxy.env.busPrefix }));
    try {
      await grantSystemAdmin(cli, "ada@example.com");
    } finally {
      await cli.close();
    }
    return { ada, bob };
  })
  .extend("publisher", { scope: "file" }, async ({ galaxy }, { onCleanup }): Promise<Bus> => {
    const publisher = await connectTestBus(galaxy.env, "agent-registry");
    onCleanup(() => publisher.close());
    return publisher;
  })
  .extend("signIn", { scope: "file" }, async ({ galaxy, users, page }) => async (email: string): Promise<void> => {
    void users;
    await page.goto(`${galaxy.url}/console/sign-in`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/console\/agents$/);
  })
  .extend("nav", { scope: "file" }, async ({ page }) => () => page.getByRole("navigation", { name: "Primary" }));
// Building the console and starting Galaxy and Chromium may take minutes: before the first test, under this limit.
test.beforeAll(async ({ signIn, publisher }) => {
  void signIn;
  void publisher;
}, 240_000);

describe("operators", () => {
  test("a member who is not a system admin has no Operators page", async ({ page, signIn, nav }) => {
    await signIn("bob@example.com");
    await nav().getByRole("link", { name: "Audit" }).waitFor();
    await page.getByText("No agents yet.").waitFor();
    expect(await nav().getByRole("link", { name: "Operators" }).count()).toBe(0);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/console\/sign-in$/);
  });

  test("a system admin previews a replay as a dry run, sees its progress, and may then run it", async ({ page, users, signIn, nav, expectAccessible }) => {
    await signIn("ada@example.com");
    await nav().getByRole("link", { name: "Operators" }).click();
    await page.getByLabel("Workspace id (optional)").fill(users.ada.workspace.id);
    await page.getByRole("button", { name: "Preview (dry run)" }).click();
    const result = page.getByTestId("dry-run-result");
    await result.getByText("completed").waitFor({ timeout: 30_000 });
    expect(await result.textContent()).toMatch(/\d+ matched · 0 applied · \d+ skipped · 0 failed/);
    expect(await page.getByRole("button", { name: "Run for real" }).isEnabled()).toBe(true);
    await page.getByRole("progressbar").first().waitFor();
    await expectAccessible("replays");
    await screenshot(page, "operators-replays");
  }, 60_000);

  test("a dead letter shows its error and payload, and a redrive reports its outcome", async ({ page, publisher, expectAccessible }) => {
    const subject = await publishForgedEvent(publisher);
    await page.getByRole("tab", { name: "Dead letters" }).click();
    // Audit and the worker's agent projection both refuse it: the filter keeps audit's.
    await page.getByLabel("Consumer").fill("audit");
    const card = page.locator("li.card", { hasText: subject });
    await card.waitFor({ timeout: 45_000 });
    expect(await card.locator(".field-error").textContent()).toContain("claim");
    await card.getByText("Payload").click();
    await card.getByText('"agent.created"').first().waitFor();
    await expectAccessible("dead letters");
    await screenshot(page, "operators-dead-letters");
    await card.getByRole("button", { name: "Redrive" }).click();
    // The claim is still forged: audit refuses it again, and the console says so.
    await page.locator('[data-testid^="redrive-"]').getByText("failed").waitFor({ timeout: 30_000 });
  }, 90_000);

  test("security incidents list the forged claim's report", async ({ page, expectAccessible }) => {
    await page.getByRole("tab", { name: "Security incidents" }).click();
    await page.getByRole("table").getByText(/^security\./).first().waitFor({ timeout: 30_000 });
    await expectAccessible("security incidents");
  }, 60_000);
});
