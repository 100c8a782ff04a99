import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import base from "../../vitest.config";

/** `make fuzz`: the OpenAPI-driven fuzz test alone (it is not part of `make test`), with the suite's engines and settings. */
export default defineConfig({
  ...base,
  root: fileURLToPath(new URL("../..", import.meta.url)),
  // The suite's settings without its lanes (projects): one file, with the engines' global setup.
  test: { ...base.test, projects: undefined, include: ["test/fuzz/**/*.fuzz.ts"], globalSetup: ["test/global-setup.ts"], testTimeout: 400_000 },
});
