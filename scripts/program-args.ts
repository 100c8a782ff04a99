import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * The V8 heap flags every compiled Galaxy program runs with on its command line, wherever it is
 * started: `make up`, the image's entry point (`bin/start.sh` writes them out; a test keeps the
 * two in step), the benchmarks and the fault suite. The old generation grows 30 % past what
 * survived its last full collection, where V8 lets it grow up to four times that first.
 * Measured in docs/benchmarks.md ("Memory: before and after").
 */
export const HEAP_FLAGS: readonly string[] = ["--heap-growing-percent=30"];

/**
 * The young generation's semi-spaces, in MB, of the programs that do not take 2 (V8's default is
 * 16: 32 MB of young generation each program touched, busy or not). 2 MB kept the gateway at 91 MiB and audit at 92 MiB after the
 * sustained benchmark, where 16 gave 144 and 168. Audit gets 8: it holds each batch of events
 * for up to 100 ms before writing it, so what it allocates outlives collections of a young
 * generation of 2 MB, which then copied it; with 8 its CPU in the sustained benchmark fell by a
 * quarter, for about 13 MiB more (docs/benchmarks.md, "Replay, Postgres and audit's young
 * generation: before and after"). The image's `bin/start.sh` picks the same.
 */
export const SEMI_SPACE_MB: Readonly<Record<string, number>> = { audit: 8 };
const DEFAULT_SEMI_SPACE_MB = 2;

/** `--max-semi-space-size` for the program `name`. */
export function semiSpaceFlag(name: string): string {
  return `--max-semi-space-size=${SEMI_SPACE_MB[name] ?? DEFAULT_SEMI_SPACE_MB}`;
}

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
 * `node`'s arguments for the compiled program `name` (`<dist>/<name>/main.js`): its heap flags,
 * stack traces mapped back to the TypeScript sources, and tracing loaded first when the build
 * made it (`<dist>/telemetry.js`, which patches libraries as they load; docs/operations.md,
 * "Tracing").
 */
export function compiledProgramArgs(dist: string, name: string): string[] {
  const telemetry = join(dist, "telemetry.js");
  return [semiSpaceFlag(name), ...HEAP_FLAGS, "--enable-source-maps", ...(existsSync(telemetry) ? ["--import", telemetry] : []), join(dist, name, "main.js")];
}
