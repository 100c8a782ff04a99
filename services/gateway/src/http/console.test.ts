import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { describe, expect, test as base } from "vitest";
import { CONSOLE_CSP, consoleBuildFrom, consoleRoutes } from "./console";

/** `tempDir`: makes a directory of the test's own under the system's temporary one; all are removed after the file's last test. */
const test = base.extend("tempDir", { scope: "file" }, async ({}, { onCleanup }) => {
  const dirs: string[] = [];
  onCleanup(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return (): string => {
    const dir = mkdtempSync(join(tmpdir(), "galaxy-console-"));
    dirs.push(dir);
    return dir;
  };
});

async function gatewayServing(dir: string) {
  const app = Fastify();
  await app.register(consoleRoutes(dir));
  await app.ready();
  return app;
}

describe("the console's routes", () => {
  test("without a build, /console says how to build it", async ({ tempDir }) => {
    const app = await gatewayServing(tempDir());
    for (const url of ["/console", "/console/agents"]) {
      const response = await app.inject({ url });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: "console_not_built" });
    }
    await app.close();
  });

  test("with a build: the page for every app path, hashed assets cached for a year, a missing asset a 404", async ({ tempDir }) => {
    const dir = tempDir();
    mkdirSync(join(dir, "assets"));
    writeFileSync(join(dir, "index.html"), '<!doctype html><div id="root"></div>');
    writeFileSync(join(dir, "assets", "index-abc123.js"), "export {};");
    const app = await gatewayServing(dir);
    for (const url of ["/console", "/console/", "/console/executions/x?status=failed"]) {
      const page = await app.inject({ url });
      expect(page.statusCode, url).toBe(200);
      expect(page.headers["content-security-policy"]).toBe(CONSOLE_CSP);
      expect(page.headers["cache-control"]).toBe("no-cache");
      expect(page.headers["x-frame-options"]).toBe("DENY");
      expect(page.body).toContain('id="root"');
    }
    const asset = await app.inject({ url: "/console/assets/index-abc123.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect((await app.inject({ url: "/console/assets/index-gone.js" })).statusCode).toBe(404);
    await app.close();
  });
});

describe("where the console's build is found", () => {
  test("from the source tree, services/console/dist; compiled, console/ beside the programs", () => {
    const root = join(tmpdir(), "galaxy-checkout");
    const source = join(root, "services/gateway/src/http");
    const compiled = join(root, "dist/gateway");
    expect(consoleBuildFrom(source)).toBe(join(root, "services/console/dist"));
    expect(consoleBuildFrom(compiled)).toBe(join(root, "dist/console"));
    // Built elsewhere (`make build --outdir`, the image's /app/dist): still beside the programs.
    expect(consoleBuildFrom(join(root, "out/gateway"))).toBe(join(root, "out/console"));
  });
});
