import { readdir, readFile } from "node:fs/promises";
import { expect, test } from "vitest";
import { GENERATED, generatedFiles } from "../scripts/generated-files";

// What the gateway's routes make now, built once (a few seconds) for both tests.
const generated = generatedFiles();

// The SDK is generated from the gateway's routes: a route or schema change must come with
// `pnpm --filter @galaxy/sdk generate`, or this fails.
test("the SDK's openapi.json and generated types are what the gateway's routes make now", async () => {
  const fresh = await generated;
  const typesDir = new URL(`../${GENERATED.types}/`, import.meta.url);
  const onDisk = await readdir(typesDir);
  const stale = `is stale: run \`pnpm --filter @galaxy/sdk generate\``;
  expect((await readFile(new URL(`../${GENERATED.document}`, import.meta.url), "utf8")) === fresh.document, `${GENERATED.document} ${stale}`).toBe(true);
  expect(onDisk.sort(), `${GENERATED.types} ${stale}`).toEqual(fresh.types.map((file) => file.name).sort());
  for (const file of fresh.types) {
    expect((await readFile(new URL(file.name, typesDir), "utf8")) === file.text, `${GENERATED.types}/${file.name} ${stale}`).toBe(true);
  }
});

test("no generated file of the SDK passes 400 lines", async () => {
  const { types } = await generated;
  expect(types.length).toBeGreaterThan(3);
  for (const file of types) expect(file.text.split("\n").length, file.name).toBeLessThanOrEqual(400);
});
