import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, resolve } from "node:path";
import { expect, inject, test } from "vitest";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ensureConsoleBuilt } from "../../support/console-build";
import { startGalaxy, type Galaxy } from "../harness";

const root = resolve(import.meta.dirname, "../../..");

/** Debian's chromium (`make browser-deps` installs it); never a downloaded browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`make browser-deps\` (apt-get install -y chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** A fresh browser profile (its own sessionStorage) at a laptop's size, failing on a CSP violation. */
export async function openContext(browser: Browser, viewport = { width: 1280, height: 860 }): Promise<{ context: BrowserContext; page: Page; cspViolations: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("Content Security Policy")) cspViolations.push(message.text());
  });
  page.setDefaultTimeout(15_000);
  return { context, page, cspViolations };
}

const axeSource = readFileSync(resolve(dirname(createRequire(import.meta.url).resolve("axe-core")), "axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core in the page. It is evaluated through the DevTools protocol, not added as a
 * script tag, so the console's CSP (scripts of its own origin only) stays in force.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  const loaded = await page.evaluate("typeof window.axe === 'object'");
  if (!loaded) await page.evaluate(axeSource);
  return page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => String(n.target)) })))",
  ) as Promise<AxeViolation[]>;
}

/** The critical violations, described; the test expects none. */
export async function criticalViolations(page: Page): Promise<string[]> {
  const all = await axeViolations(page);
  if (process.env.AXE_DEBUG) console.log(JSON.stringify(all.map((v) => [v.impact, v.id, v.targets])));
  return all.filter((v) => v.impact === "critical").map((v) => `${v.id}: ${v.help} (${v.targets.join(", ")})`);
}

/**
 * Screenshots go to `docs/console/` with `UPDATE_SCREENSHOTS=1` (the README shows them), and to
 * a temporary directory otherwise, so an ordinary `make test` leaves the tree as it was.
 */
const screenshotDir = process.env.UPDATE_SCREENSHOTS === "1" ? resolve(root, "docs/console") : resolve(tmpdir(), "galaxy-console-screenshots");

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = resolve(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/**
 * The browser side of a console test, each set up once per file and closed after its last test:
 * - `browser`: headless Chromium;
 * - `tab`: a fresh browser profile in it with one page (`page`), and the CSP violations it met
 *   (`cspViolations`);
 * - `expectAccessible(name)`: fails on any critical accessibility violation of `page`, naming
 *   the view.
 * A file extends it with its Galaxy (`galaxy`) and what else it needs.
 */
export const consoleTest = test
  .extend("browser", { scope: "file" }, async ({}, { onCleanup }): Promise<Browser> => {
    const browser = await launchBrowser();
    onCleanup(() => browser.close());
    return browser;
  })
  .extend("tab", { scope: "file" }, async ({ browser }, { onCleanup }) => {
    const tab = await openContext(browser);
    onCleanup(() => tab.context.close());
    return tab;
  })
  .extend("page", { scope: "file" }, async ({ tab }) => tab.page)
  .extend("cspViolations", { scope: "file" }, async ({ tab }) => tab.cspViolations)
  .extend("expectAccessible", { scope: "file" }, async ({ page }) => async (name: string): Promise<void> => {
    expect(await criticalViolations(page), `critical accessibility violations on ${name}`).toEqual([]);
  });

/** `consoleTest` with `galaxy`: a Galaxy of the file's own (../harness.ts), started once the console is built, stopped after the file's last test. */
export const consoleGalaxyTest = consoleTest.extend("galaxy", { scope: "file" }, async ({}, { onCleanup }): Promise<Galaxy> => {
  await ensureConsoleBuilt();
  const galaxy = await startGalaxy(inject("engines"));
  onCleanup(() => galaxy.stop());
  return galaxy;
});
