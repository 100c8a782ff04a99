import { writeFile } from "node:fs/promises";
import { GENERATED, generatedFiles } from "./generated-files";

// Regenerates the SDK's document and types from the gateway's routes (no engines, no server).
const files = await generatedFiles();
await writeFile(new URL(`../${GENERATED.document}`, import.meta.url), files.document);
await writeFile(new URL(`../${GENERATED.types}`, import.meta.url), files.types);
process.stdout.write(`wrote ${GENERATED.document} and ${GENERATED.types}\n`);
// The gateway's metrics keep timers alive; everything is written.
process.exit(0);
