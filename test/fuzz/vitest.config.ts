import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import base from "../../vitest.config";

/** `make fuzz`: the OpenAPI-driven fuzz test alone (it is not part of `make test`), with the suite's engines and settings. */
export default defineConfig({
  ...base,
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: { ...base.test, include: ["test/fuzz/**/*.fuzz.ts"], testTimeout: 400_000 },
});
