#!/usr/bin/env node
// Runs one compiled Galaxy program: `node bin/service.mjs <program> [args…]`, or the program
// named by GALAXY_SERVICE (the image's entry point; docs/operations.md, The image).
// Programs: gateway, identity, agent-registry, execution-worker, audit, dev-model, cli, setup.
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const programs = existsSync(dist) ? readdirSync(dist).filter((name) => existsSync(join(dist, name, "main.js"))) : [];
const [first, ...rest] = process.argv.slice(2);
const fromEnv = process.env.GALAXY_SERVICE;
const [name, args] = first !== undefined && (programs.includes(first) || !fromEnv) ? [first, rest] : [fromEnv, process.argv.slice(2)];

if (!name || !programs.includes(name)) {
  process.stderr.write(
    programs.length === 0
      ? "no compiled programs: run `make build` first\n"
      : `${name ? `unknown program "${name}"` : "no program named"}: give one of ${programs.join(", ")} as the first argument or in GALAXY_SERVICE\n`,
  );
  process.exit(2);
}

// Stack traces point at the TypeScript sources (dist/<program>/main.js.map).
process.setSourceMapsEnabled(true);
const entry = join(dist, name, "main.js");
process.argv = [process.argv[0] ?? "node", entry, ...args];
// Tracing first, when configured: its instrumentations patch pg, ioredis, Fastify and undici
// as the program loads them (docs/operations.md, "Tracing").
const telemetry = join(dist, "telemetry.js");
if (existsSync(telemetry)) await import(telemetry);
await import(entry);
