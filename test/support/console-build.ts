import { execFile } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { CONSOLE_BUILD } from "../../scripts/build/bundle";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");

/**
 * Builds the console once when `services/console/dist` is missing. Test files run side by side,
 * so the first one builds under a lock directory and the others wait until it lets the lock go:
 * Vite may write `index.html` before the scripts it names, so a page alone is no finished build.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const index = resolve(CONSOLE_BUILD, "index.html");
  const lock = resolve(CONSOLE_BUILD, "../.build-lock");
  if (existsSync(index) && !existsSync(lock)) return;
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
    if (!existsSync(index)) await run("pnpm", ["--filter", "@galaxy/console", "run", "build"], { cwd: root, timeout: 180_000 });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
