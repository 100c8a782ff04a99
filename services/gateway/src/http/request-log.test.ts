import { Writable } from "node:stream";
import Fastify from "fastify";
import { expect, test } from "vitest";
import { createLogger } from "@galaxy/observability";
import { RequestLog } from "./request-log";

/** A gateway-like Fastify app logging through `RequestLog` into an array of parsed lines. */
async function appLogging(level: string, slowMs: number) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const app = Fastify({ loggerInstance: createLogger({ service: "gateway", level, destination }), logController: new RequestLog(slowMs) });
  app.get("/fast", async () => ({ ok: true }));
  app.get("/slow", async () => {
    await new Promise((resolve) => setTimeout(resolve, 30));
    return { ok: true };
  });
  app.get("/broken", async () => {
    throw new Error("the handler broke");
  });
  await app.ready();
  return { app, messages: () => lines.map((line) => `${String(line.level)} ${String(line.msg)}`) };
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
