import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { expect, test } from "vitest";

/**
 * The repository's own tests and benchmarks use each service as another program would: through
 * its package (`@galaxy/gateway`, …), whose `src/index.ts` says what it offers. An import of a
 * service's `src/` by path, or of a deep path of its package, would tie them to its insides.
 * Starting a service's `src/main.ts` as a process is not an import and stays allowed.
 */

const ROOT = join(import.meta.dirname, "../..");
const SCANNED = ["test", "bench"];
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
    return /^services\/[^/]+\/src(?:\/|$)/.test(target) ? `${specifier} (${target})` : undefined;
  }
  const deep = /^@galaxy\/([^/]+)\/./.exec(specifier);
  return deep && SERVICE_PACKAGES.includes(deep[1] ?? "") ? specifier : undefined;
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

test("nothing under test/ or bench/ imports a service's src/ by path", () => {
  const files = SCANNED.flatMap((dir) => sourceFiles(join(ROOT, dir)));
  expect(files.length).toBeGreaterThan(50);
  expect(files.flatMap((file) => offenders(file, readFileSync(file, "utf8")))).toEqual([]);
});
