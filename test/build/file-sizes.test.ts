import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, test } from "vitest";
import { ROOT } from "../../scripts/build/bundle";

const run = promisify(execFile);
const MAX_LINES = 400;
const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;

// One concern per file: no source file the repository tracks, generated or written, passes 400 lines.
test(`no source file of the repository passes ${MAX_LINES} lines`, async () => {
  const { stdout } = await run("git", ["ls-files"], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const sources = stdout.split("\n").filter((path) => SOURCE.test(path));
  expect(sources.length).toBeGreaterThan(100);
  const tooLong: string[] = [];
  for (const path of sources) {
    const text = await readFile(join(ROOT, path), "utf8").catch(() => "");
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (lines > MAX_LINES) tooLong.push(`${path}: ${lines} lines`);
  }
  expect(tooLong).toEqual([]);
});
