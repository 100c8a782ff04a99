import { Readable, Writable } from "node:stream";
import { afterEach, expect, it } from "vitest";
import { createLogger } from "@galaxy/observability";
import { buildDevModelServer } from "./app";

const servers: Array<{ close: () => Promise<unknown> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A dev model server logging through Galaxy's logger at `level` into an array of parsed lines. */
function serverLogging(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const app = buildDevModelServer({ logger: createLogger({ service: "dev-model", level, destination }) });
  servers.push(app);
  return { app, lines };
}

const chat = { model: "galaxy-dev-echo", stream: true, messages: [{ role: "user", content: "hello" }] };

it("writes no line for a model call at info, the level `make up` runs it at", async () => {
  const { app, lines } = serverLogging("info");
  const answer = await app.inject({ method: "POST", url: "/v1/chat/completions", payload: chat });
  expect(answer.statusCode).toBe(200);
  expect(answer.body).toContain("data: [DONE]");
  expect(lines).toEqual([]);
});

it("writes one line per model call at debug, with its status and time", async () => {
  const { app, lines } = serverLogging("debug");
  await app.inject({ method: "POST", url: "/v1/chat/completions", payload: chat });
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ service: "dev-model", msg: "model request answered", method: "POST", url: "/v1/chat/completions", statusCode: 200 });
  expect(lines[0]?.ms).toEqual(expect.any(Number));
});

it("still logs a failure it did not mean to answer, at error", async () => {
  const { app, lines } = serverLogging("info");
  await app.inject({ method: "POST", url: "/_control", payload: { failNext: { count: 1, status: 500 } } });
  const answer = await app.inject({ method: "POST", url: "/v1/chat/completions", payload: chat });
  expect(answer.statusCode).toBe(500);
  expect(lines.map((line) => `${String(line.level)} ${String(line.msg)}`)).toEqual(["50 dev model request failed"]);
});

it("logs an answer whose stream broke at error, with its cause", async () => {
  const { app, lines } = serverLogging("info");
  app.get("/broken-stream", async (_request, reply) =>
    reply.send(new Readable({ read() { this.destroy(new Error("the stream broke")); } })),
  );
  await app.inject({ method: "GET", url: "/broken-stream" });
  const errors = lines.filter((line) => line.level === 50);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ err: { message: "the stream broke" }, req: { url: "/broken-stream" } });
});
