import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * `make fault`: the fault suite (docs/reliability.md). Its files end in `.fault.ts`, so the
 * main suite (`make test`) does not pick them up. Each file starts its own engines and
 * services; they run one at a time, since they stop and kill processes on purpose and the
 * two cores are theirs.
 */
export default defineConfig({
  test: {
    root: resolve(import.meta.dirname, "../.."),
    include: ["test/fault/**/*.fault.ts"],
    pool: "forks",
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 600_000,
    hookTimeout: 300_000,
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? "silent" },
  },
});
