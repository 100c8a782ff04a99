import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { expect, test } from "vitest";

/**
 * The repository's own tests, benchmarks and scripts, and every service, use another service
 * as another program would: through its package (`@galaxy/gateway`, …), whose `src/index.ts`
 * and the subpaths its `package.json` exports say what it offers. An import of a service's
 * `src/` by path, or of a deep path its package does not export, would tie them to its
 * insides. Starting a service's `src/main.ts` as a process is not an import and stays allowed.
 */

const ROOT = join(import.meta.dirname, "../..");
const SCANNED = ["test", "bench", "scripts"];
const SERVICE_PACKAGES = ["agent-registry", "audit", "cli", "dev-model", "execution-worker", "gateway", "identity"];

/** `from "x"`, `import "x"`, `import("x")`, `export … from "x"`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : sourceFiles(path);
    return /\.(?:ts|mts|mjs|js)$/.test(entry.name) ? [path] : [];
  });
}

/** Why importing `specifier` from `file` reaches into a service, or undefined when it does not. */
function reachesIntoService(file: string, specifier: string): string | undefined {
  if (specifier.startsWith(".")) {
    const target = relative(ROOT, resolve(dirname(file), specifier)).split("\\").join("/");
    const into = /^services\/([^/]+)\/src(?:\/|$)/.exec(target)?.[1];
    return into !== undefined && into !== serviceOf(file) ? `${specifier} (${target})` : undefined;
  }
  const deep = /^@galaxy\/([^/]+)\/(.+)$/.exec(specifier);
  if (!deep || !SERVICE_PACKAGES.includes(deep[1] ?? "")) return undefined;
  return exportedSubpaths(deep[1] ?? "").has(`./${deep[2] ?? ""}`) ? undefined : specifier;
}

/** The service a file belongs to, if it is one's. */
function serviceOf(file: string): string | undefined {
  return /^services\/([^/]+)\//.exec(relative(ROOT, file).split("\\").join("/"))?.[1];
}

/** The subpaths a service's package exports (`./migrations`, …). */
function exportedSubpaths(service: string): Set<string> {
  const manifest: unknown = JSON.parse(readFileSync(join(ROOT, "services", service, "package.json"), "utf8"));
  const exports = typeof manifest === "object" && manifest !== null && "exports" in manifest ? manifest.exports : undefined;
  return new Set(typeof exports === "object" && exports !== null ? Object.keys(exports) : []);
}

/** Each import of `text` (the source of `file`) that reaches into a service. */
function offenders(file: string, text: string): string[] {
  return [...text.matchAll(SPECIFIER)].flatMap((m) => {
    const why = reachesIntoService(file, m[1] ?? "");
    return why ? [`${relative(ROOT, file)}: ${why}`] : [];
  });
}

test("the check recognises an import of a service's insides, by path or by deep package path", () => {
  const file = join(ROOT, "test/e2e/example.test.ts");
  expect(reachesIntoService(file, "../../services/gateway/src/app")).toBeDefined();
  expect(reachesIntoService(join(ROOT, "bench/x.ts"), "../services/audit/src/db")).toBeDefined();
  expect(reachesIntoService(file, "@galaxy/execution-worker/src/quota/tiers")).toBeDefined();
  expect(reachesIntoService(file, "@galaxy/execution-worker")).toBeUndefined();
  expect(reachesIntoService(file, "@galaxy/execution-worker/migrations")).toBeUndefined();
  expect(reachesIntoService(join(ROOT, "services/audit/src/x.int.test.ts"), "../../agent-registry/src/app")).toBeDefined();
  expect(reachesIntoService(join(ROOT, "services/audit/src/x/y.ts"), "../db")).toBeUndefined();
  expect(reachesIntoService(file, "@galaxy/testkit/anything")).toBeUndefined();
  expect(reachesIntoService(file, "./harness")).toBeUndefined();
  // Spelt in pieces, so that this file does not itself hold such an import.
  const up = "../../services";
  const sample = `import { a } from "${up}/gateway/src/app";\nconst m = await import("${up}/identity/src/db");\nexport { b } from "${up}/audit/src/chain/chain";`;
  expect(offenders(file, sample)).toEqual([
    "test/e2e/example.test.ts: ../../services/gateway/src/app (services/gateway/src/app)",
    "test/e2e/example.test.ts: ../../services/identity/src/db (services/identity/src/db)",
    "test/e2e/example.test.ts: ../../services/audit/src/chain/chain (services/audit/src/chain/chain)",
  ]);
});

test("nothing under test/, bench/, scripts/ or another service imports a service's insides", () => {
  const files = [...SCANNED, ...SERVICE_PACKAGES.map((service) => `services/${service}`)].flatMap((dir) => sourceFiles(join(ROOT, dir)));
  expect(files.length).toBeGreaterThan(300);
  expect(files.flatMap((file) => offenders(file, readFileSync(file, "utf8")))).toEqual([]);
});

/**
 * Test support (the testkit, a package's `testing` subpath, a `test/` directory) is for tests:
 * what a service or library runs in production imports none of it, so no build can carry it.
 */
function testSupport(file: string, specifier: string): string | undefined {
  if (specifier === "@galaxy/testkit" || specifier.startsWith("@galaxy/testkit/") || /^@galaxy\/[^/]+\/testing$/.test(specifier)) return specifier;
  if (!specifier.startsWith(".")) return undefined;
  const target = relative(ROOT, resolve(dirname(file), specifier)).split("\\").join("/");
  return /(?:^|\/)test(?:\/|$)/.test(target) ? `${specifier} (${target})` : undefined;
}

/** Every file a service or library runs: under `src/`, not a test. */
function productionFiles(): string[] {
  return ["services", "libs"]
    .flatMap((top) => readdirSync(join(ROOT, top), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(ROOT, top, e.name, "src")))
    .filter((dir) => existsSync(dir))
    .flatMap((dir) => sourceFiles(dir))
    .filter((file) => !/\.test\.ts$/.test(file));
}

test("the check recognises test support", () => {
  const file = join(ROOT, "services/gateway/src/app.ts");
  expect(testSupport(file, "@galaxy/dev-model/testing")).toBeDefined();
  expect(testSupport(file, "@galaxy/testkit")).toBeDefined();
  expect(testSupport(file, "@galaxy/testkit/fixtures")).toBeDefined();
  expect(testSupport(file, "../test/fixtures")).toBeDefined();
  expect(testSupport(file, "@galaxy/dev-model")).toBeUndefined();
  expect(testSupport(file, "./http/respond")).toBeUndefined();
});

test("no code a service or library runs in production imports test support", () => {
  const files = productionFiles();
  expect(files.length).toBeGreaterThan(300);
  const found = files.flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(SPECIFIER)].flatMap((m) => {
      const why = testSupport(file, m[1] ?? "");
      return why ? [`${relative(ROOT, file)}: ${why}`] : [];
    }),
  );
  expect(found).toEqual([]);
});
