import { readFile } from "node:fs/promises";
import { expect, test } from "vitest";
import { GENERATED, generatedFiles } from "../scripts/generated-files";

// The SDK is generated from the gateway's routes: a route or schema change must come with
// `pnpm --filter @galaxy/sdk generate`, or this fails.
test("the SDK's openapi.json and generated types are what the gateway's routes make now", async () => {
  const fresh = await generatedFiles();
  const onDisk = {
    document: await readFile(new URL(`../${GENERATED.document}`, import.meta.url), "utf8"),
    types: await readFile(new URL(`../${GENERATED.types}`, import.meta.url), "utf8"),
  };
  expect(onDisk.document === fresh.document, `${GENERATED.document} is stale: run \`pnpm --filter @galaxy/sdk generate\``).toBe(true);
  expect(onDisk.types === fresh.types, `${GENERATED.types} is stale: run \`pnpm --filter @galaxy/sdk generate\``).toBe(true);
});
