import { configDefaults, defineConfig } from "vitest/config";

/** Finds the engines and migrates the template database each file clones (test/global-setup.ts). */
const engines = ["test/global-setup.ts"];
/** Pure tests under test/: they read files, never the engines. */
const pureUnderTest = ["test/build/**/*.test.ts", "test/docs/**/*.test.ts"];

/**
 * Three lanes (`--project <name>`); `vitest run` without one runs them all.
 * - unit: pure functions, no engine: every `*.test.ts` in libs/, services/, test/build/ and test/docs/.
 * - integration: `*.int.test.ts`, each against the real Postgres, NATS and Redis.
 * - e2e: every other `*.test.ts` under test/ (test/e2e, test/ops, …): the whole system started
 *   in-process (test/e2e/harness.ts), driven over HTTP.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: two files at a time keeps the engines responsive.
    maxWorkers: 2,
    env: { SCRYPT_COST: "12", LOG_LEVEL: process.env.LOG_LEVEL ?? "silent" },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["libs/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", ...pureUnderTest],
          exclude: [...configDefaults.exclude, "**/*.int.test.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["libs/*/src/**/*.int.test.ts", "services/*/src/**/*.int.test.ts", "test/**/*.int.test.ts"],
          globalSetup: engines,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/**/*.int.test.ts", ...pureUnderTest],
          globalSetup: engines,
        },
      },
    ],
  },
});
