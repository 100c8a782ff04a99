import { readdir, rm, writeFile } from "node:fs/promises";
import { GENERATED, generatedFiles } from "./generated-files";

// Regenerates the SDK's document and types from the gateway's routes (no engines, no server).
const files = await generatedFiles();
const typesDir = new URL(`../${GENERATED.types}/`, import.meta.url);
await writeFile(new URL(`../${GENERATED.document}`, import.meta.url), files.document);
const names = new Set(files.types.map((file) => file.name));
for (const stale of (await readdir(typesDir)).filter((name) => !names.has(name))) await rm(new URL(stale, typesDir));
for (const file of files.types) await writeFile(new URL(file.name, typesDir), file.text);
process.stdout.write(`wrote ${GENERATED.document} and ${files.types.length} files in ${GENERATED.types}\n`);
// The gateway's metrics keep timers alive; everything is written.
process.exit(0);
