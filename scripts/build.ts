import { relative } from "node:path";
import { buildAll, NO_CONSOLE_BUILD, ROOT } from "./build/bundle";

/**
 * `make build`: every service, the CLI and setup as `dist/<name>/main.js` (docs/operations.md,
 * Building). `--no-link` leaves out `dist/node_modules`, as the image does; `--outdir <dir>`
 * builds elsewhere.
 */
const args = process.argv.slice(2);
const outdirIndex = args.indexOf("--outdir");
const outdir = outdirIndex >= 0 ? args[outdirIndex + 1] : undefined;
if (outdirIndex >= 0 && !outdir) {
  console.error("--outdir needs a directory");
  process.exit(2);
}

const started = performance.now();
const result = await buildAll({ ...(outdir ? { outdir } : {}), linkDependencies: !args.includes("--no-link") });
const seconds = ((performance.now() - started) / 1000).toFixed(2);
console.log(`built ${relative(ROOT, result.outdir) || "."}/ in ${seconds} s: ${(result.bytes / 1024).toFixed(0)} KiB of JavaScript, ${result.externals.size} external packages`);
if (!result.console) console.log(NO_CONSOLE_BUILD);
