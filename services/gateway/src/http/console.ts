import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync, FastifyReply } from "fastify";

/** This file's directory in the source tree, as against `<outdir>/gateway` once compiled. */
const SOURCE_DIR = join("services", "gateway", "src", "http");

/**
 * Where the console's build is, seen from the gateway's code at `here`: from the source tree,
 * `services/console/dist` itself; compiled, `console/` beside the programs (`dist/console`, which
 * `make build` and the image's build copy there).
 */
export function consoleBuildFrom(here: string): string {
  return here.endsWith(SOURCE_DIR) ? resolve(here, "../../../console/dist") : resolve(here, "../console");
}

/** The console this gateway serves; `GALAXY_CONSOLE_DIR` overrides it. */
export const CONSOLE_DIST = consoleBuildFrom(import.meta.dirname);

/**
 * Only the gateway's own origin: the console's scripts, styles and calls all come from it, and
 * it carries no inline script or style (docs/console.md).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Vite names every built asset by its content hash: a changed file is a new name, so a year is safe. */
const IMMUTABLE = "public, max-age=31536000, immutable";

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CONSOLE_CSP)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("x-frame-options", "DENY");
}

/**
 * Serves the console at `/console`: its hashed assets with a long cache, and `index.html` for
 * every other path below it (the app routes in the browser). Without a build, `/console`
 * answers 404 `console_not_built` and says how to build it.
 */
export function consoleRoutes(dir = process.env.GALAXY_CONSOLE_DIR ?? CONSOLE_DIST): FastifyPluginAsync {
  return async (app) => {
    const indexFile = resolve(dir, "index.html");
    if (!existsSync(indexFile)) {
      const notBuilt = { error: "Not Found", code: "console_not_built", message: "The console is not built: run `make build` (it builds the console and copies it beside the compiled gateway) and restart the gateway" };
      app.get("/console", { schema: { hide: true } }, async (_request, reply) => reply.status(404).send(notBuilt));
      app.get("/console/*", { schema: { hide: true } }, async (_request, reply) => reply.status(404).send(notBuilt));
      return;
    }
    // Read once: the page is small, and a new build comes with a restart.
    const index = readFileSync(indexFile);
    await app.register(fastifyStatic, {
      root: dir,
      prefix: "/console/",
      // One route per built file, found at start-up; every other path falls to index.html below.
      wildcard: false,
      index: false,
      etag: true,
      lastModified: false,
      cacheControl: false,
      setHeaders: (res, path) => {
        res.header("cache-control", path.includes("/assets/") ? IMMUTABLE : "no-cache");
        res.header("x-content-type-options", "nosniff");
      },
    });
    const sendIndex = async (_request: unknown, reply: FastifyReply) => secure(reply).header("cache-control", "no-cache").type("text/html; charset=utf-8").send(index);
    app.get("/console", { schema: { hide: true } }, sendIndex);
    app.get<{ Params: { "*": string } }>("/console/*", { schema: { hide: true } }, async (request, reply) => {
      // A missing asset is a 404, not the page: a stale tab must not run HTML as a script.
      if (request.params["*"].startsWith("assets/")) return reply.status(404).send({ error: "Not Found", code: "route_not_found", message: `No file ${request.url.split("?")[0]}` });
      return sendIndex(request, reply);
    });
  };
}
