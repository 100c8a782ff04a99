import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["libs/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: two files at a time keeps the engines responsive.
    maxWorkers: 2,
    env: { SCRYPT_COST: "12", LOG_LEVEL: process.env.LOG_LEVEL ?? "silent" },
  },
});
