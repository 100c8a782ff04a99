import { build, type Metafile, type Plugin } from "esbuild";
import { cpSync, existsSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, "../..");

/** Every program the build emits, as `dist/<name>/main.js`. */
export const ENTRIES = {
  gateway: "services/gateway/src/main.ts",
  identity: "services/identity/src/main.ts",
  "agent-registry": "services/agent-registry/src/main.ts",
  "execution-worker": "services/execution-worker/src/main.ts",
  audit: "services/audit/src/main.ts",
  "dev-model": "services/dev-model/src/main.ts",
  cli: "services/cli/src/main.ts",
  setup: "scripts/setup.ts",
} as const;
export type EntryName = keyof typeof ENTRIES;

/**
 * Packages loaded by name at run time rather than imported, so the bundles' imports do not
 * show them: pino starts its `pino-pretty` transport from a string (`LOG_FORMAT=pretty`).
 */
const LOADED_BY_NAME = [
  { name: "pino-pretty", from: "libs/observability/src/logger.ts" },
  // The ES module hook OpenTelemetry's instrumentations patch imports through (registered by name).
  { name: "@opentelemetry/instrumentation", from: "libs/observability/src/preload.ts" },
];

/**
 * `dist/telemetry.js`: what `node --import` loads before a program, to start tracing before
 * the packages it instruments load (docs/operations.md, "Tracing").
 */
export const TELEMETRY_PRELOAD = { out: "telemetry", entry: "libs/observability/src/preload.ts" } as const;

export interface BuildOptions {
  /** Where `<name>/main.js` go (default `dist`). */
  outdir?: string;
  /**
   * Link each third-party package the bundles import into `<outdir>/node_modules`, so the
   * output runs from a development checkout, whose pnpm layout keeps each package's
   * dependencies beside that package. The image sets this off: its production install puts
   * every dependency in one flat `node_modules` above `dist`.
   */
  linkDependencies?: boolean;
}

/** The web console's build (`make console`), which the compiled gateway serves from `<outdir>/console`. */
export const CONSOLE_BUILD = join(ROOT, "services/console/dist");

/** What `make build` and `make up` say when a build found no console to copy (both build it first; a script run alone may not). */
export const NO_CONSOLE_BUILD = "no console build (services/console/dist) to copy: the gateway will answer /console with console_not_built; `make console` builds it";

export interface BuildResult {
  outdir: string;
  /** Whether the console's build was there to copy beside the programs. */
  console: boolean;
  /** Third-party packages the bundles import, each with the directory it resolved to. */
  externals: Map<string, string>;
  /** Bytes of JavaScript emitted (source maps excluded). */
  bytes: number;
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

const BUILTINS = new Set(builtinModules);

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || BUILTINS.has(packageName(specifier));
}

/** The directory of `name` as the file `importer` sees it: the first `node_modules/<name>` up from it. */
function packageDirFrom(importer: string, name: string): string | undefined {
  for (let dir = dirname(importer); ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(candidate)) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Bundles Galaxy's own workspace packages (`@galaxy/*`, TypeScript sources) into each
 * program and leaves every third-party package external, recording where each resolved.
 * Two workspace packages that see two different copies of one package fail the build: one
 * flat production install could not give each the copy it was tested with.
 */
function externalsPlugin(externals: Map<string, string>, conflicts: string[]): Plugin {
  return {
    name: "galaxy-externals",
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("@galaxy/")) return undefined;
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        const name = packageName(args.path);
        const dir = packageDirFrom(args.importer, name);
        if (!dir) return { errors: [{ text: `${name} is imported by ${args.importer} but is not a dependency of its package` }] };
        const known = externals.get(name);
        if (known && known !== dir) conflicts.push(`${name}: ${known} and ${dir}`);
        externals.set(name, dir);
        return { path: args.path, external: true };
      });
    },
  };
}

function linkDependencies(outdir: string, externals: Map<string, string>): void {
  const modules = join(outdir, "node_modules");
  rmSync(modules, { recursive: true, force: true });
  for (const [name, dir] of externals) {
    const link = join(modules, name);
    mkdirSync(dirname(link), { recursive: true });
    // Relative, so the output keeps working when the checkout moves.
    symlinkSync(relative(dirname(link), dir), link, "dir");
  }
}

function emittedBytes(metafile: Metafile): number {
  return Object.entries(metafile.outputs)
    .filter(([file]) => file.endsWith(".js"))
    .reduce((sum, [, output]) => sum + output.bytes, 0);
}

/** Builds every program into `<outdir>/<name>/main.js` (ESM, Node 20, with source maps). */
export async function buildAll(options: BuildOptions = {}): Promise<BuildResult> {
  const outdir = resolve(ROOT, options.outdir ?? "dist");
  const externals = new Map<string, string>();
  const conflicts: string[] = [];
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { ...Object.fromEntries(Object.entries(ENTRIES).map(([name, entry]) => [`${name}/main`, entry])), [TELEMETRY_PRELOAD.out]: TELEMETRY_PRELOAD.entry },
    outdir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
    plugins: [externalsPlugin(externals, conflicts)],
  });
  if (conflicts.length > 0) throw new Error(`two copies of a package in the build:\n  ${conflicts.join("\n  ")}`);
  for (const { name, from } of LOADED_BY_NAME) {
    const dir = packageDirFrom(resolve(ROOT, from), name);
    if (!dir) throw new Error(`${name} (loaded by name from ${from}) is not installed`);
    externals.set(name, dir);
  }
  // The bundles are ES modules wherever they are copied (the image holds no root package.json).
  writeFileSync(join(outdir, "package.json"), `${JSON.stringify({ type: "module", private: true })}\n`);
  if (options.linkDependencies ?? true) linkDependencies(outdir, externals);
  return { outdir, externals, bytes: emittedBytes(result.metafile), console: copyConsole(outdir) };
}

/**
 * Copies the console's build to `<outdir>/console`, where the compiled gateway looks for it
 * (services/gateway/src/http/console.ts), so `dist/` carries everything the programs serve.
 */
function copyConsole(outdir: string): boolean {
  const copy = join(outdir, "console");
  rmSync(copy, { recursive: true, force: true });
  if (!existsSync(join(CONSOLE_BUILD, "index.html"))) return false;
  cpSync(CONSOLE_BUILD, copy, { recursive: true });
  return true;
}
