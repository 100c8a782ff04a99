import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { CONSOLE_BUILD } from "../../scripts/build/bundle";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");

/** What the console's build is made of: a change to any of them after the build makes it stale. */
const SOURCES = ["services/console/app", "services/console/public", "services/console/vite.config.ts", "services/console/package.json", "libs/sdk/src"];

/** When the newest of the console's sources was written (milliseconds). */
function newestSource(): number {
  let newest = 0;
  for (const source of SOURCES.map((path) => resolve(root, path))) {
    const stat = statSync(source, { throwIfNoEntry: false });
    if (!stat) continue;
    const files = stat.isDirectory() ? readdirSync(source, { recursive: true, encoding: "utf8" }).map((name) => resolve(source, name)) : [source];
    for (const file of files) newest = Math.max(newest, statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
  }
  return newest;
}

/** Whether `services/console/dist` holds a build made after its sources last changed. */
function builtFresh(index: string): boolean {
  const built = statSync(index, { throwIfNoEntry: false })?.mtimeMs;
  return built !== undefined && built >= newestSource();
}

/**
 * Builds the console when `services/console/dist` is missing or older than a source of it (a
 * checkout's console changed since `make up` or `make console` built it). Test files run side by side,
 * so the first one builds under a lock directory and the others wait until it lets the lock go:
 * Vite may write `index.html` before the scripts it names, so a page alone is no finished build.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const index = resolve(CONSOLE_BUILD, "index.html");
  const lock = resolve(CONSOLE_BUILD, "../.build-lock");
  if (!existsSync(lock) && builtFresh(index)) return;
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another file is building; a lock older than the deadline is a crashed build's.
      if (Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 180_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error("timed out waiting for another test file to build the console");
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    if (!builtFresh(index)) await run("pnpm", ["--filter", "@galaxy/console", "run", "build"], { cwd: root, timeout: 180_000 });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
