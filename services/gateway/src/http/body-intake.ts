import type { FastifyInstance } from "fastify";
import { assertStorable, Uuid } from "@galaxy/contracts";

/**
 * What the gateway accepts as a request's input (docs/errors.md):
 * - a body is JSON or nothing: a body of another media type (Fastify also reads `text/plain`
 *   by default) is a 415 `unsupported_media_type`;
 * - a JSON body, query or path that holds what Postgres cannot store, or nests deeper than
 *   `MAX_JSON_DEPTH`, is a 400 `invalid_value` before anything runs. The webhook routes keep
 *   their body raw for the signature and check the parsed value themselves, with the same code;
 * - an id in the path is read lowercase: a UUID names one thing whatever the case it is written
 *   in, and so must every key the gateway makes of it (a trigger's cache entry, its rate count
 *   and delivery log).
 */
export function installBodyIntake(app: FastifyInstance): void {
  app.removeContentTypeParser("text/plain");
  // Before the body is read: a refusal while reading it (413, 415) is logged under the lowercase id too.
  app.addHook("onRequest", async (request) => lowercaseIds(request.params));
  app.addHook("preValidation", async (request) => {
    if (request.body !== undefined && !Buffer.isBuffer(request.body)) assertStorable(request.body, "body");
    assertStorable(request.query, "querystring");
    assertStorable(request.params, "params");
  });
}

function lowercaseIds(params: unknown): void {
  if (typeof params !== "object" || params === null) return;
  const record = params as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (typeof value === "string" && Uuid.safeParse(value).success) record[key] = value.toLowerCase();
  }
}
