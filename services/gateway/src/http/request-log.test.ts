import { Writable } from "node:stream";
import Fastify from "fastify";
import { expect, test, vi } from "vitest";
import { createLogger } from "@galaxy/observability";
import { RequestLog } from "./request-log";
import { requestLoggers } from "./request-logger";

/**
 * A gateway-like Fastify app logging through `RequestLog` and per-request `RequestLogger`s
 * into an array of parsed lines; `children()` counts the pino children made.
 */
async function appLogging(level: string, slowMs: number) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ service: "gateway", level, destination });
  const child = vi.spyOn(logger, "child");
  const app = Fastify({
    loggerInstance: logger,
    logController: new RequestLog(slowMs),
    childLoggerFactory: requestLoggers(logger),
    genReqId: (req) => String(req.headers["x-request-id"] ?? "generated"),
  });
  app.get("/fast", async () => ({ ok: true }));
  app.get("/slow", async () => {
    await new Promise((resolve) => setTimeout(resolve, 30));
    return { ok: true };
  });
  app.get("/broken", async () => {
    throw new Error("the handler broke");
  });
  await app.ready();
  const before = child.mock.calls.length;
  return {
    app,
    messages: () => lines.map((line) => `${String(line.level)} ${String(line.msg)}`),
    lineIds: () => lines.map((line) => line.reqId),
    lines: () => lines,
    children: () => child.mock.calls.length - before,
  };
}

test("at info, a fast request writes no line; a slow one a warning; a failed one its error", async () => {
  const { app, messages } = await appLogging("info", 20);
  expect((await app.inject({ method: "GET", url: "/fast" })).statusCode).toBe(200);
  expect(messages()).toEqual([]);
  expect((await app.inject({ method: "GET", url: "/slow" })).statusCode).toBe(200);
  expect(messages()).toEqual(["40 slow request"]);
  expect((await app.inject({ method: "GET", url: "/broken" })).statusCode).toBe(500);
  // The default error handler logs the error; the request itself is then logged as completed with its 500.
  expect(messages().slice(1)).toEqual(["50 the handler broke", "30 request completed"]);
  await app.close();
});

test("at debug, every request writes its incoming and completed lines", async () => {
  const { app, messages } = await appLogging("debug", 1_000);
  await app.inject({ method: "GET", url: "/fast" });
  expect(messages()).toEqual(["20 incoming request", "20 request completed"]);
  await app.close();
});

test("a request that writes no line makes no child logger; one that writes makes one, with its request id", async () => {
  const { app, messages, lineIds, children, lines } = await appLogging("info", 1_000);
  await app.inject({ method: "GET", url: "/fast" });
  expect(children()).toBe(0);
  await app.inject({ method: "GET", url: "/broken", headers: { "x-request-id": "req-broken-1", authorization: "Bearer secret-token-1", "x-api-key": "gx_secret_key_1" } });
  expect(children()).toBe(1);
  expect(messages()).toEqual(["50 the handler broke", "30 request completed"]);
  expect(lineIds()).toEqual(["req-broken-1", "req-broken-1"]);
  // Fastify's serializers apply to the child: a request is its method, URL and address, never its headers.
  const completed = lines().find((line) => line.msg === "request completed");
  expect(Object.keys(completed?.req ?? {}).sort()).toEqual(["host", "method", "remoteAddress", "url"]);
  expect(JSON.stringify(lines())).not.toMatch(/secret-token-1|gx_secret_key_1/);
  await app.close();
});
