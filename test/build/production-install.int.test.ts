import { expect } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { connectTestBus, freePort, programEnv } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { buildAll, ROOT } from "../../scripts/build/bundle";
import { ensureConsoleBuilt } from "../support/console-build";
import { answersOk, eventually } from "./wait";

/**
 * The image's final stage, on this machine (docs/operations.md, The image): the production
 * install that scripts/install-production.sh makes from the manifests alone (as the
 * Dockerfile runs it), dist/ built beside it, and bin/. It must hold no test or build tooling,
 * and every program must run from it alone.
 */

const run = promisify(execFile);
const TOOLING = [/^vitest$/, /^@vitest\//, /^testcontainers$/, /^ssh2$/, /^tsx$/, /^typescript$/, /^esbuild$/, /^@esbuild\//, /^@types\//, /^autocannon$/, /^dockerode$/];
const SERVICES = [
  { name: "dev-model", port: "DEV_MODEL_PORT", ready: "/health" },
  { name: "identity", port: "IDENTITY_PORT", ready: "/health/ready" },
  { name: "agent-registry", port: "AGENT_REGISTRY_PORT", ready: "/health/ready" },
  { name: "execution-worker", port: "EXECUTION_WORKER_PORT", ready: "/health/ready" },
  { name: "audit", port: "AUDIT_PORT", ready: "/health/ready" },
  { name: "gateway", port: "GATEWAY_PORT", ready: "/health/ready" },
];

/** What the Dockerfile's manifests stage copies: the workspace manifests, the lockfile and the patches of dependencies. */
async function copyManifests(to: string): Promise<void> {
  for (const file of ["package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc"]) await cp(join(ROOT, file), join(to, file)).catch(() => undefined);
  await cp(join(ROOT, "patches"), join(to, "patches"), { recursive: true });
  for (const folder of ["libs", "services"]) {
    for (const entry of await readdir(join(ROOT, folder))) {
      const manifest = join(folder, entry, "package.json");
      await mkdir(join(to, folder, entry), { recursive: true });
      await cp(join(ROOT, manifest), join(to, manifest)).catch(() => undefined);
    }
  }
}

/** Every package in a node_modules tree, nested ones included, by name. */
async function packagesIn(nodeModules: string): Promise<string[]> {
  const names: string[] = [];
  const entries = await readdir(nodeModules).catch(() => [] as string[]);
  for (const entry of entries.filter((e) => !e.startsWith("."))) {
    const scoped = entry.startsWith("@") ? (await readdir(join(nodeModules, entry))).map((name) => `${entry}/${name}`) : [entry];
    for (const name of scoped) {
      names.push(name);
      names.push(...(await packagesIn(join(nodeModules, name, "node_modules"))));
    }
  }
  return names;
}

async function bytesIn(path: string): Promise<number> {
  const info = await lstat(path);
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await bytesIn(join(path, entry));
  return total;
}

/** The README's walk-through, shortened: sign up, an active agent, one execution to completed, its audit entry. */
async function walkThrough(api: string): Promise<void> {
  const call = async (path: string, body?: unknown, token?: string): Promise<{ status: number; data: Record<string, unknown> }> => {
    const response = await fetch(`${api}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await response.json()) as { data?: Record<string, unknown> };
    return { status: response.status, data: json.data ?? {} };
  };
  const signup = await call("/api/auth/signup", { email: "ada@example.com", password: "correct horse battery", name: "Ada", workspaceName: "Engines" });
  expect(signup.status).toBe(201);
  const token = String(signup.data.accessToken);
  const agent = await call("/api/agents", { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat after me." }, token);
  expect((await call(`/api/agents/${String(agent.data.id)}/activate`, {}, token)).data.status).toBe("active");
  const started = await call(`/api/agents/${String(agent.data.id)}/executions`, { input: { message: "hello" } }, token);
  expect(started.status).toBe(202);
  const done = await eventually(async () => {
    const execution = await call(`/api/executions/${String(started.data.id)}`, undefined, token);
    return execution.data.status === "completed" ? execution.data : undefined;
  }, 60_000, "the execution to complete");
  expect(done.output).toEqual({ text: "echo: hello" });
  await eventually(async () => {
    const response = await fetch(`${api}/api/audit-logs?limit=50`, { headers: { authorization: `Bearer ${token}` } });
    const logs = (await response.json()) as { data: Array<{ action: string }> };
    return logs.data.some((entry) => entry.action === "execution.completed") ? true : undefined;
  }, 60_000, "execution.completed in the audit log");
}

/** A program started by `start`, and its exit code once it exits. */
interface Started {
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * On the testkit's `env`, each set up once per file and cleaned up after it:
 * - `work`: a directory of the file's own, holding the manifests the Dockerfile copies;
 * - `app`: the image's final stage in it: the production install, dist/ built beside it, bin/;
 * - `start`: starts `bin/service.mjs` in `app` with the arguments given, on `env`, with the
 *   variables given; whatever still runs after the last test is killed.
 */
const test = engineTest
  .extend("work", { scope: "file" }, async ({}, { onCleanup }): Promise<string> => {
    const work = await mkdtemp(join(tmpdir(), "galaxy-production-"));
    onCleanup(() => rm(work, { recursive: true, force: true }));
    await copyManifests(work);
    return work;
  })
  .extend("app", { scope: "file" }, async ({ work }): Promise<string> => {
    const app = join(work, "app");
    await run("sh", [join(ROOT, "scripts/install-production.sh"), app], { cwd: work, timeout: 240_000, env: { ...process.env, CI: "true" } });
    // The image's build stage builds the console first; the build copies it into dist/console.
    await ensureConsoleBuilt();
    const built = await buildAll({ outdir: join(app, "dist"), linkDependencies: false });
    expect(built.console).toBe(true);
    await cp(join(ROOT, "bin"), join(app, "bin"), { recursive: true });
    return app;
  })
  .extend("start", { scope: "file" }, async ({ app, env }, { onCleanup }) => {
    const children: ChildProcess[] = [];
    onCleanup(() => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    return (args: string[], extra: NodeJS.ProcessEnv): Started => {
      const child = spawn(process.execPath, ["bin/service.mjs", ...args], {
        cwd: app,
        env: programEnv(env, extra),
        stdio: ["ignore", "ignore", "inherit"],
      });
      children.push(child);
      return { child, exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))) };
    };
  });
// The production install and a console build take minutes: before the first test, under this limit.
test.beforeAll(async ({ app }) => {
  void app;
}, 420_000);

test("the production node_modules holds no test or build tooling", async ({ app }) => {
  const packages = await packagesIn(join(app, "node_modules"));
  expect(packages).toEqual(expect.arrayContaining(["fastify", "kysely", "pg", "pino", "@nats-io/jetstream"]));
  expect(packages.filter((name) => TOOLING.some((pattern) => pattern.test(name)))).toEqual([]);
  expect(packages.filter((name) => name.startsWith("@galaxy/"))).toEqual([]);
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  console.info(`production node_modules: ${mib(await bytesIn(join(app, "node_modules")))} MiB, ${packages.length} packages; dist: ${mib(await bytesIn(join(app, "dist")))} MiB`);
});

test("it carries Galaxy's patch of nats.js: an answered request builds no error, a turn's writes go out at once, headers are read by exact key (patches/, docs/decisions/0024, 0027, 0029)", async ({ app }) => {
  const request = await readFile(join(app, "node_modules/@nats-io/nats-core/lib/request.js"), "utf8");
  const one = request.slice(request.indexOf("class RequestOne"));
  const resolver = one.slice(one.indexOf("resolver(err, msg)"), one.indexOf("cancel(err)"));
  expect(resolver).toContain("this.mux.cancel(this);");
  expect(resolver).not.toContain("this.cancel();");
  const protocol = await readFile(join(app, "node_modules/@nats-io/nats-core/lib/protocol.js"), "utf8");
  const sendCommand = protocol.slice(protocol.indexOf("sendCommand(cmd, ...payloads)"), protocol.indexOf("publish(subject, payload"));
  expect(sendCommand).toContain("setImmediate(");
  expect(sendCommand).not.toContain("queueMicrotask(");
  const close = protocol.slice(protocol.indexOf("async close(err)"), protocol.indexOf("flushPending() {"));
  expect(close.indexOf("this.flushPending();")).toBeGreaterThan(-1);
  expect(close.indexOf("this.flushPending();")).toBeLessThan(close.indexOf("await this.transport.close(err);"));
  const headers = await readFile(join(app, "node_modules/@nats-io/nats-core/lib/headers.js"), "utf8");
  const findKeys = headers.slice(headers.indexOf("findKeys(k, match"), headers.indexOf("get(k, match"));
  expect(findKeys).toContain("return this.headers.has(k) ? [k] : [];");
  expect(headers).toContain("function checkHeaderKey(k)");
});

test("setup and the CLI run from it", async ({ app, start }) => {
  const cli = await run(process.execPath, ["bin/service.mjs", "cli", "--help"], { cwd: app });
  expect(cli.stdout).toContain("Usage: galaxy");
  const setup = start(["setup"], {});
  expect(await setup.exited).toBe(0);
  const unknown = start(["nonsense"], {});
  expect(await unknown.exited).toBe(2);
  const none = start([], {});
  expect(await none.exited).toBe(2);
}, 120_000);

test("every service starts from it alone and answers ready; the image's health check sees it; an execution completes; SIGTERM stops each cleanly", async ({ env, work, app, start }) => {
  const bus = await connectTestBus(env, "setup");
  await bus.close();
  const ports = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s.port, String(await freePort())] as const)));
  const shared = { ...ports, OPENAI_BASE_URL: `http://127.0.0.1:${ports.DEV_MODEL_PORT}/v1`, ANTHROPIC_BASE_URL: `http://127.0.0.1:${ports.DEV_MODEL_PORT}`, AUDIT_EXPORT_DIR: join(work, "exports") };
  const running = SERVICES.map((service) => ({ service, ...start([], { ...shared, GALAXY_SERVICE: service.name }) }));

  for (const { service } of running) {
    const url = `http://127.0.0.1:${ports[service.port]}${service.ready}`;
    await eventually(async () => ((await answersOk(url)) ? true : undefined), 90_000, `${service.name} to be ready`);
    const health = await run(process.execPath, ["bin/healthcheck.mjs"], { cwd: app, env: { ...shared, GALAXY_SERVICE: service.name } }).then(() => 0, (error: { code?: number }) => error.code ?? -1);
    expect(health, service.name).toBe(0);
  }
  await walkThrough(`http://127.0.0.1:${ports.GATEWAY_PORT}`);

  // The compiled gateway serves the console copied beside it (dist/console), its page and assets.
  const page = await fetch(`http://127.0.0.1:${ports.GATEWAY_PORT}/console/agents`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
  const html = await page.text();
  const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  expect(script, html.slice(0, 300)).toBeDefined();
  // Read to its end: a response left unread holds its request open, and the gateway's stop waits for it.
  const asset = await fetch(`http://127.0.0.1:${ports.GATEWAY_PORT}${script}`);
  expect(asset.status).toBe(200);
  expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(0);

  // Stack traces map back to the sources (bin/service.mjs turns source maps on).
  expect(await readFile(join(app, "dist/gateway/main.js.map"), "utf8")).toContain("services/gateway/src/main.ts");

  for (const { child } of [...running].reverse()) child.kill("SIGTERM");
  expect(await Promise.all(running.map((r) => r.exited))).toEqual(SERVICES.map(() => 0));
  const after = await run(process.execPath, ["bin/healthcheck.mjs"], { cwd: app, env: { ...shared, GALAXY_SERVICE: "identity" } }).then(() => 0, (error: { code?: number }) => error.code ?? -1);
  expect(after).toBe(1);
}, 240_000);
