import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * The V8 heap flags every compiled Galaxy program runs with, wherever it is started: `make up`,
 * the image's entry point (the Dockerfile writes them out; a test keeps the two in step), the
 * benchmarks and the fault suite. The young generation gets semi-spaces of 2 MB (V8's default
 * is 16: 32 MB of young generation each program touched, busy or not), and the old generation
 * grows 30 % past what survived its last full collection, where V8 lets it grow up to four
 * times that first. Measured in docs/benchmarks.md ("Memory: before and after"): after the
 * sustained run the gateway went from 144 to 91 MiB resident and audit from 168 to 92 MiB,
 * for a few per cent more CPU in the worker.
 */
export const HEAP_FLAGS: readonly string[] = ["--max-semi-space-size=2", "--heap-growing-percent=30"];

/**
 * The environment every compiled Galaxy program starts with, under whatever the operator set
 * (an explicit setting wins). `MALLOC_ARENA_MAX=2`: glibc adds an arena whenever threads
 * contend for one, up to eight per core (Node runs about ten threads: libuv's pool, V8's
 * compiler and collector), and an arena keeps what was freed in it. After the sustained
 * benchmark the worker held about 13 MiB in four thread arenas; with two arenas in all it was
 * 10 MiB smaller, for no change in CPU beyond the noise (docs/benchmarks.md, "A leak, and fewer
 * malloc arenas"). musl ignores it.
 */
export const PROGRAM_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

/** `env` with PROGRAM_ENV's settings where `env` has none of its own. */
export function withProgramEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...PROGRAM_ENV, ...env };
}

/**
 * `node`'s arguments for the compiled program `name` (`<dist>/<name>/main.js`): the heap flags,
 * stack traces mapped back to the TypeScript sources, and tracing loaded first when the build
 * made it (`<dist>/telemetry.js`, which patches libraries as they load; docs/operations.md,
 * "Tracing").
 */
export function compiledProgramArgs(dist: string, name: string): string[] {
  const telemetry = join(dist, "telemetry.js");
  return [...HEAP_FLAGS, "--enable-source-maps", ...(existsSync(telemetry) ? ["--import", telemetry] : []), join(dist, name, "main.js")];
}
