import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { promisify } from "node:util";
import { describe, expect } from "vitest";
import { createDb, sql } from "@galaxy/db";
import { api, type Galaxy } from "../harness";
import { CONSOLE_CSP } from "@galaxy/gateway";
import { consoleGalaxyTest, screenshot } from "./browser";
import { PASSWORD } from "../fixtures";

/**
 * The console in a real browser against a whole Galaxy: a new user signs up, builds an agent,
 * runs it, wires a webhook, and checks the audit chain (docs/console.md).
 */
const run = promisify(execFile);
/** The agent the tests build, as a console path: `/agents/<id>`. */
let agentUrl = "";

const EMAIL = "grace@example.com";
const INPUT_SCHEMA = JSON.stringify({ type: "object", properties: { question: { type: "string", description: "What to ask" } }, required: ["question"] });

/**
 * Besides the browser's and Galaxy's (`consoleGalaxyTest`, ./browser.ts: `galaxy`, `browser`,
 * and `page`, which the tests walk through in turn, with its `cspViolations`, and
 * `expectAccessible`), each set up once per file, before its first test, and cleaned up after
 * its last:
 * - `go`: opens a console path in `page`.
 */
const test = consoleGalaxyTest
  .extend("go", { scope: "file" }, async ({ galaxy, page }) => (path: string) => page.goto(`${galaxy.url}/console${path}`));
// Building the console and starting Galaxy and Chromium may take minutes: before the first test, under this limit.
test.beforeAll(async ({ galaxy, page }) => {
  void galaxy;
  void page;
}, 240_000);

describe("the gateway serves the console", () => {
  test("index.html under /console and every app path below it, with a CSP of its own origin only", async ({ galaxy }) => {
    for (const path of ["/console", "/console/", "/console/executions/some-id"]) {
      const response = await fetch(`${galaxy.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/html");
      expect(response.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
      expect(response.headers.get("cache-control")).toBe("no-cache");
      expect(await response.text()).toContain('<div id="root">');
    }
  });

  test("hashed assets are cached for a year; a missing one is a 404, not the page", async ({ galaxy }) => {
    const html = await (await fetch(`${galaxy.url}/console`)).text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${galaxy.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(asset.headers.get("content-type")).toContain("javascript");
    const missing = await fetch(`${galaxy.url}/console/assets/missing-0000.js`);
    expect(missing.status).toBe(404);
  });

  test("the first load is under 300 KB of compressed JavaScript", async ({ galaxy }) => {
    const html = await (await fetch(`${galaxy.url}/console`)).text();
    const scripts = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+\.js)"/g)].map((m) => m[1] ?? "");
    expect(scripts.length).toBeGreaterThan(0);
    let compressed = 0;
    for (const script of scripts) compressed += gzipSync(Buffer.from(await (await fetch(`${galaxy.url}${script}`)).arrayBuffer()), { level: 9 }).length;
    expect(compressed).toBeLessThan(300 * 1024);
  });
});

describe("a new user", () => {
  test("signs up: the API's messages appear beside the fields, then the empty agents page says what to do", async ({ page, go, expectAccessible }) => {
    await go("/");
    await page.waitForURL(/\/console\/sign-in$/);
    await expectAccessible("sign in");
    await screenshot(page, "sign-in");
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect.poll(() => page.locator(".field.invalid").count()).toBeGreaterThanOrEqual(3);
    const passwordField = page.locator(".field", { has: page.getByLabel("Password") });
    await expect.poll(() => passwordField.locator(".field-error").textContent()).toContain("12");
    await expectAccessible("sign up with errors");

    await page.getByLabel("Your name").fill("Grace");
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByLabel("Workspace name").fill("Analytical Engines");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(/\/console\/agents$/);
    await page.getByText("No agents yet.").waitFor();
    await expectAccessible("agents (empty)");
  });

  test("the session survives a reload", async ({ page }) => {
    await page.reload();
    await page.getByText("No agents yet.").waitFor();
    expect(await page.locator("#workspace-switcher").inputValue()).not.toBe("");
  });

  test("the token is renewed before it expires", async ({ page }) => {
    const stored = async () => JSON.parse(String(await page.evaluate("sessionStorage.getItem('galaxy.console.session')"))) as { accessToken: string; expiresAt: string };
    const before = await stored();
    // A token a minute from its end is inside the renewal window: the console renews it at once.
    await page.evaluate(`sessionStorage.setItem('galaxy.console.session', JSON.stringify({ ...JSON.parse(sessionStorage.getItem('galaxy.console.session')), expiresAt: new Date(Date.now() + 60000).toISOString() }))`);
    await page.reload();
    await expect.poll(async () => (await stored()).accessToken).not.toBe(before.accessToken);
    expect(Date.parse((await stored()).expiresAt)).toBeGreaterThan(Date.now() + 5 * 60_000);
    await page.getByText("No agents yet.").waitFor();
  });

  test("creates an agent with an input schema and activates it; a bad schema is refused beside its field", async ({ page, expectAccessible }) => {
    await page.getByRole("link", { name: "Create your first agent" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Oracle");
    await page.getByLabel("System prompt").fill("Answer briefly.");
    await page.getByLabel("Input JSON Schema").fill("{not json");
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.locator(".field", { has: page.getByLabel("Input JSON Schema") }).getByText("is not valid JSON").waitFor();
    await page.getByLabel("Input JSON Schema").fill(INPUT_SCHEMA);
    await expectAccessible("new agent");
    await screenshot(page, "agent-editor");
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.waitForURL(/\/console\/agents\/[0-9a-f-]{36}$/);
    agentUrl = new URL(page.url()).pathname.replace("/console", "");
    // A draft refuses a run; the refusal goes once the agent is activated.
    const testRun = page.getByRole("form", { name: "Test run" });
    await page.getByLabel("question (required)").fill("Are you there?");
    await testRun.getByRole("button", { name: "Run" }).click();
    await testRun.getByRole("alert").getByText(/draft/).waitFor();
    await page.getByRole("button", { name: "Activate" }).click();
    await page.locator(".facts .badge", { hasText: "active" }).waitFor();
    await expect.poll(() => testRun.getByRole("alert").count()).toBe(0);
    await page.getByLabel("question (required)").fill("");
  });

  test("runs it from its page with the form built from its schema, and watches the stream to the end", async ({ page, expectAccessible }) => {
    await page.getByRole("button", { name: "Run" }).click();
    // The input schema requires `question`: the API's message appears beside that field.
    await page.locator(".field", { has: page.getByLabel("question (required)") }).locator(".field-error").waitFor();
    await page.getByLabel("question (required)").fill("What is the analytical engine?");
    await expectAccessible("agent test run");
    await screenshot(page, "agent");
    await page.getByRole("button", { name: "Run" }).click();
    await page.waitForURL(/\/console\/executions\/[0-9a-f-]{36}$/);
    await page.getByTestId("run-status").getByText("completed").waitFor({ timeout: 30_000 });
    // The steps come only from the event stream.
    const timeline = page.getByRole("list", { name: "Step timeline" });
    await timeline.getByText("Model call").waitFor();
    await timeline.getByText("Output", { exact: true }).waitFor();
    expect((await page.getByTestId("run-output").textContent())?.length).toBeGreaterThan(0);
    await expectAccessible("run");
    await screenshot(page, "run");
  }, 60_000);

  test("cancels a run while its model call is under way", async ({ galaxy, page, go }) => {
    // Rejects unless the dev model answered the setting with a success.
    await expect(galaxy.devModel.control({ latencyMs: 20_000 })).resolves.toBeUndefined();
    try {
      await go(agentUrl);
      await page.getByLabel("question (required)").fill("Take your time");
      await page.getByRole("button", { name: "Run" }).click();
      await page.waitForURL(/\/console\/executions\/[0-9a-f-]{36}$/);
      await page.getByRole("button", { name: "Cancel" }).click();
      await page.getByTestId("run-status").getByText("cancelled").waitFor({ timeout: 20_000 });
      expect(await page.getByRole("button", { name: "Cancel" }).count()).toBe(0);
    } finally {
      await galaxy.devModel.control({ reset: true });
    }
  }, 60_000);

  test("the executions list shows the run and filters it by status", async ({ page, expectAccessible }) => {
    await page.getByRole("navigation", { name: "Primary" }).getByRole("link", { name: "Executions" }).click();
    const table = page.getByRole("table", { name: "Executions" });
    await table.getByText("Oracle").first().waitFor();
    await page.getByLabel("Status").selectOption("failed");
    await page.getByText("No executions match these filters.").waitFor();
    await page.getByLabel("Status").selectOption("completed");
    await table.getByText("completed").first().waitFor();
    await expectAccessible("executions");
  });

  test("the executions list follows the workspace's stream: a run started elsewhere appears and ends without a reload", async ({ galaxy, page, go }) => {
    const streamOpened = page.waitForRequest((request) => request.url().includes("/api/executions/stream"));
    await go("/executions");
    await streamOpened;
    await page.getByText(/Updates live\./).waitFor();
    const token = String(await page.evaluate("JSON.parse(sessionStorage.getItem('galaxy.console.session')).accessToken"));
    const agentId = agentUrl.split("/").at(-1) ?? "";
    const started = await api(galaxy, "POST", `/api/agents/${agentId}/executions`, { token, body: { input: { question: "from elsewhere" } } });
    expect(started.status).toBe(202);
    const id = String((started.body as { data: { id: string } }).data.id);
    // Ids made within the same minute share their first eight digits: the link shows the last four too.
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: `${id.slice(0, 8)}…${id.slice(-4)}`, exact: true }) });
    await row.getByText("completed").waitFor();
  });

  test("a list of 10,000 executions renders only the rows in view and loads older pages as it scrolls", async ({ galaxy, page, go, expectAccessible }) => {
    const workspaceId = String(await page.evaluate("JSON.parse(sessionStorage.getItem('galaxy.console.session')).workspaceId"));
    const agentId = agentUrl.split("/").at(-1) ?? "";
    const db = createDb<unknown>({ connectionString: galaxy.env.databaseUrl, max: 1 });
    try {
      await sql`insert into execution.executions (id, workspace_id, agent_id, agent_version, status, trigger, input, output, created_by, correlation_id, traceparent, created_at, started_at, completed_at, duration_ms)
        select gen_random_uuid(), ${workspaceId}::uuid, ${agentId}::uuid, 1, 'completed', '{"type":"schedule"}', 'null', '{"text":"earlier"}', 'console-test', 'console-test',
          '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', now() - make_interval(mins => g), now() - make_interval(mins => g), now() - make_interval(mins => g), 1000
        from generate_series(1, 10000) g`.execute(db);
    } finally {
      await db.destroy();
    }
    await go("/executions");
    await page.getByText(/^10,00\d executions/).waitFor();
    const table = page.getByRole("table", { name: "Executions" });
    const body = table.locator(".vbody");
    for (let round = 0; round < 4; round++) {
      const before = Number(await table.getAttribute("aria-rowcount"));
      await body.hover();
      await page.mouse.wheel(0, 100_000);
      await expect.poll(async () => Number(await table.getAttribute("aria-rowcount"))).toBeGreaterThan(before);
    }
    expect(Number(await table.getAttribute("aria-rowcount"))).toBeGreaterThan(400);
    expect(await table.locator(".vbody .vrow").count()).toBeLessThan(60);
    await expectAccessible("10,000 executions");
    await page.mouse.wheel(0, -1_000_000);
    await page.evaluate("window.scrollTo(0, 0)");
    await screenshot(page, "executions");
    // The trigger and time filters are the API's: the totals are of every match, not of the loaded rows.
    await page.getByLabel("Trigger").selectOption("schedule");
    await page.getByText("10,000 executions").waitFor();
    await page.getByLabel(/^Time/).selectOption("1h");
    await page.getByText(/^(59|60|61) executions/).waitFor();
    await page.getByLabel("Trigger").selectOption("replay");
    await page.getByText("No executions match these filters.").waitFor();
  }, 60_000);

  test("creates a webhook trigger: its signed curl example delivers, and the delivery completes", async ({ galaxy, page, go, expectAccessible }) => {
    await go(agentUrl);
    await page.getByRole("tab", { name: "Triggers" }).click();
    await page.getByRole("button", { name: "New webhook trigger" }).click();
    const example = await page.getByLabel("Signed curl example").textContent();
    expect(example).toContain("whsec_");
    expect(example).toContain(`${galaxy.url}/hooks/`);
    await expectAccessible("triggers");
    await screenshot(page, "triggers");
    // The example exactly as a user would paste it into a shell.
    const { stdout } = await run("bash", ["-c", example ?? ""], { timeout: 15_000 });
    expect(stdout).toContain("executionId");
    await page.getByRole("button", { name: "I have copied it" }).click();
    const deliveries = page.getByRole("list", { name: "Recent deliveries" });
    await deliveries.getByText("completed").waitFor({ timeout: 30_000 });
    // A delivery signed with another secret is refused, and listed with why.
    const triggerId = /\/hooks\/([0-9a-f-]{36})/.exec(example ?? "")?.[1] ?? "";
    const refused = await api(galaxy, "POST", `/hooks/${triggerId}`, {
      body: "{}",
      headers: { "content-type": "application/json", "webhook-id": "msg_forged", "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": "v1,Zm9yZ2Vk" },
    });
    expect(refused.status).toBe(401);
    await deliveries.getByText("bad signature").waitFor();
    await expectAccessible("trigger deliveries");
    await screenshot(page, "trigger-deliveries");
  }, 60_000);

  test("adds a schedule and shows its next three runs in its time zone", async ({ page, expectAccessible }) => {
    const form = page.getByRole("form", { name: "New schedule" });
    // The registry's message about the time zone appears beside that field.
    await form.getByLabel("Cron").fill("0 9 * * *");
    await form.getByLabel("Time zone").fill("Mars/Olympus");
    await form.getByRole("button", { name: "Add schedule" }).click();
    await form.locator(".field", { has: page.getByLabel("Time zone") }).locator(".field-error").getByText(/not an IANA time zone/).waitFor();
    await form.getByLabel("Cron").fill("0 9 * * *");
    await form.getByLabel("Time zone").fill("Europe/Paris");
    // The input starts as one the agent's inputSchema (it requires `question`) accepts; one it refuses is refused beside the field.
    const input = form.getByLabel("Input (JSON)");
    expect(JSON.parse(await input.inputValue())).toEqual({ question: "hello from a schedule" });
    await input.fill("{}");
    await form.getByRole("button", { name: "Add schedule" }).click();
    await form.locator(".field", { has: page.getByLabel("Input (JSON)") }).locator(".field-error").getByText(/required property 'question'/).waitFor();
    await input.fill('{"question":"what happened overnight?"}');
    await form.getByRole("button", { name: "Add schedule" }).click();
    const runs = page.getByRole("list", { name: "Next runs (Europe/Paris)" });
    await runs.waitFor();
    expect(await runs.getByRole("listitem").allTextContents()).toEqual([expect.stringMatching(/09:00/), expect.stringMatching(/09:00/), expect.stringMatching(/09:00/)]);
    await expectAccessible("schedules");
    await runs.scrollIntoViewIfNeeded();
    await screenshot(page, "schedules");
  });

  test("verifies the audit chain and lists its entries", async ({ page, go, expectAccessible }) => {
    await go("/audit");
    await page.getByRole("button", { name: "Verify the chain" }).click();
    await expect.poll(() => page.getByTestId("audit-verdict").textContent()).toMatch(/^Intact: all \d+ entries/);
    await page.getByRole("table").getByText("agent.created").first().waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export NDJSON" }).click()]);
    expect(download.suggestedFilename()).toBe("audit-log.ndjson");
    const lines = (await readFile(await download.path(), "utf8")).trim().split("\n").map((line) => JSON.parse(line) as { seq: number; action: string });
    expect(lines.map((entry) => entry.seq)).toEqual(lines.map((_, i) => i + 1));
    expect(lines.some((entry) => entry.action === "agent.created")).toBe(true);
    await expectAccessible("audit");
    await screenshot(page, "audit");
  });

  test("team and knowledge pages: a document is indexed and found by the search box", async ({ page, go, expectAccessible }) => {
    await go("/team");
    await page.getByRole("table").getByText(EMAIL).waitFor();
    await expectAccessible("team");
    await screenshot(page, "team");
    await go("/knowledge");
    await page.getByText("No knowledge bases yet.").waitFor();
    await page.getByLabel("Knowledge base name").fill("Notes");
    await page.getByRole("button", { name: "Create knowledge base" }).click();
    await page.getByRole("link", { name: "Notes" }).click();
    await page.getByText("No documents yet.").waitFor();
    await page.getByLabel("Title").fill("Engines");
    await page.getByLabel("Text", { exact: true }).fill("The analytical engine was designed by Charles Babbage. Ada Lovelace wrote its first program.");
    await page.getByRole("button", { name: "Add document" }).click();
    await page.getByRole("listitem").filter({ hasText: "Engines" }).getByText("indexed").waitFor({ timeout: 30_000 });
    await page.getByLabel("Search: the chunks an agent would get").fill("Who wrote the first program?");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.locator(".chunks li", { hasText: "Ada Lovelace" }).waitFor();
    await expectAccessible("knowledge base");
    await screenshot(page, "knowledge");
  }, 60_000);

  test("switches to another workspace of the user and back", async ({ galaxy, page, go }) => {
    const token = String(await page.evaluate("JSON.parse(sessionStorage.getItem('galaxy.console.session')).accessToken"));
    const created = await api(galaxy, "POST", "/api/workspaces", { token, body: { name: "Difference Engines" } });
    expect(created.status).toBe(201);
    await go("/agents");
    const switcher = page.getByLabel("Workspace");
    await switcher.locator("option", { hasText: "Difference Engines" }).waitFor({ state: "attached" });
    const home = await switcher.inputValue();
    await switcher.selectOption({ label: "Difference Engines (owner)" });
    await page.getByText("No agents yet.").waitFor();
    expect(await switcher.inputValue()).not.toBe(home);
    await switcher.selectOption(home);
    await page.getByRole("link", { name: "Oracle" }).waitFor();
  });

  test("works on a phone: the menu opens from its button", async ({ page, go, expectAccessible }) => {
    await page.setViewportSize({ width: 390, height: 844 });
    await go("/executions");
    await page.getByRole("table", { name: "Executions" }).waitFor();
    const menu = page.getByRole("button", { name: "Menu" });
    expect(await menu.getAttribute("aria-expanded")).toBe("false");
    await menu.click();
    await page.getByRole("navigation", { name: "Primary" }).getByRole("link", { name: "Audit" }).waitFor();
    await expectAccessible("executions on a phone");
    await screenshot(page, "phone");
    // No page is wider than the phone: a wide table scrolls inside its own box.
    for (const path of ["/team", "/audit", "/executions"]) {
      await go(path);
      await page.getByRole("table").first().waitFor();
      expect(await page.evaluate("document.documentElement.scrollWidth"), path).toBeLessThanOrEqual(390);
    }
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  test("a run that does not exist says so once, and is not asked for again", async ({ galaxy, page, go }) => {
    const id = randomUUID();
    const asked: string[] = [];
    const onRequest = (request: { url(): string }) => {
      if (new URL(request.url()).pathname === `/api/executions/${id}`) asked.push(request.url());
    };
    page.on("request", onRequest);
    try {
      await go(`/executions/${id}`);
      await page.getByRole("alert").getByText("execution_not_found").waitFor();
      // The page polls a running execution every 3 s: past that, a 404 would have been asked again.
      await page.waitForTimeout(4_000);
      expect(asked).toHaveLength(1);
    } finally {
      page.off("request", onRequest);
    }
    void galaxy;
  });

  test("signing out forgets the token", async ({ page, cspViolations, go }) => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/console\/sign-in$/);
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    await go("/agents");
    await page.waitForURL(/\/console\/sign-in$/);
    expect(cspViolations).toEqual([]);
  });
});
