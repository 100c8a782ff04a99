import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
const PAGE = "docs/architecture.md";

/** Where a path the page gives relative to the file it is walking through may sit. */
const BASES = ["", "services/execution-worker/src/executions", "services/audit/src"];
/** Named for every service alike ("each service's `src/app.ts`"). */
const PER_SERVICE = new Set(["src/app.ts", "src/main.ts"]);

/** `a/{b,c}.ts` → `a/b.ts`, `a/c.ts`. */
function expand(path: string): string[] {
  const braces = /^(.*)\{([^}]*)\}(.*)$/.exec(path);
  if (!braces) return [path];
  const [, before = "", options = "", after = ""] = braces;
  return options.split(",").map((option) => `${before}${option.trim()}${after}`);
}

test("every file docs/architecture.md names exists", () => {
  const page = readFileSync(join(ROOT, PAGE), "utf8");
  const named = [...page.matchAll(/`([A-Za-z0-9_./{},-]+\.(?:ts|md|mjs))`/g)].flatMap((m) => expand(m[1] ?? ""));
  expect(named.length).toBeGreaterThan(30);
  const missing = named.filter((path) => !PER_SERVICE.has(path) && !BASES.some((base) => existsSync(join(ROOT, base, path))));
  expect(missing).toEqual([]);
});
