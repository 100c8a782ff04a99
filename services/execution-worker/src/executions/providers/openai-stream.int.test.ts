import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { listenOnLoopback } from "@galaxy/testkit/loopback";
import { describe, expect, test as base } from "vitest";
import { ModelCallError } from "../../errors";
import { chatCompletionStream, MAX_EVENT_CHARS, type OpenAIEndpoint } from "./openai-stream";

/**
 * What an OpenAI-compatible server may send that the dev model server does not: events cut
 * anywhere across packets, CRLF line ends and comments, an error inside a 200 stream, bytes
 * that are not JSON, an endless event, and a kept-alive connection it closed. A stand-in
 * server answers each request with the handler the test set (`standIn.answer`).
 */

interface StandIn {
  url: string;
  /** The connections the stand-in accepted so far. */
  connections: () => number;
  answer: (req: IncomingMessage, res: ServerResponse) => void;
}

const test = base.extend("standIn", { scope: "file" }, async ({}, { onCleanup }): Promise<StandIn> => {
  const sockets = new Set<Socket>();
  const standIn: StandIn = { url: "", connections: () => sockets.size, answer: (_req, res) => res.end() };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => standIn.answer(req, res));
  });
  server.on("connection", (socket: Socket) => sockets.add(socket));
  const listening = await listenOnLoopback(server);
  onCleanup(listening.close);
  standIn.url = `http://127.0.0.1:${listening.port}/v1`;
  return standIn;
});

const endpoint = (standIn: StandIn, maxRetries = 0): OpenAIEndpoint => ({ baseUrl: standIn.url, apiKey: "k", maxRetries, policy: null });
const ask = { model: "m", messages: [{ role: "user", content: "hi" }], stream: true };

async function collect(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const events: unknown[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** Answers with `body` as an event stream, a few bytes per write. */
function streamInPieces(body: string, size = 3): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    for (let at = 0; at < body.length; at += size) res.write(body.slice(at, at + size));
    res.end();
  };
}

describe("an OpenAI-compatible stream", () => {
  test("events cut across writes, with CRLF or CR ends, comments and multi-line data, are read whole up to [DONE]", async ({ standIn }) => {
    standIn.answer = streamInPieces(': keep-alive\r\n\r\ndata: {"n":1}\r\n\r\ndata: {"n":\r\ndata: 2}\r\revent: message\nid: 3\ndata: {"n":3}\n\ndata: [DONE]\n\ndata: {"n":4}\n\n');
    expect(await collect(chatCompletionStream(endpoint(standIn), ask, new AbortController().signal))).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  test("one kept-alive connection serves call after call", async ({ standIn }) => {
    standIn.answer = streamInPieces('data: {"n":1}\n\ndata: [DONE]\n\n', 64);
    const before = standIn.connections();
    for (let i = 0; i < 3; i++) expect(await collect(chatCompletionStream(endpoint(standIn), ask, new AbortController().signal))).toEqual([{ n: 1 }]);
    expect(standIn.connections() - before).toBeLessThanOrEqual(1);
  });

  test("an error inside a 200 stream fails the call with the provider's message", async ({ standIn }) => {
    standIn.answer = streamInPieces('data: {"n":1}\n\ndata: {"error":{"message":"The server is overloaded","type":"server_error"}}\n\n');
    const events: unknown[] = [];
    const error = await (async () => {
      for await (const event of chatCompletionStream(endpoint(standIn), ask, new AbortController().signal)) events.push(event);
    })().catch((caught: unknown) => caught);
    expect(events).toEqual([{ n: 1 }]);
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ code: "provider_error", message: "The server is overloaded" });
  });

  test("events whose `error` is null, false or empty are the answer's, and an `error` event fails the call", async ({ standIn }) => {
    standIn.answer = streamInPieces('data: {"n":1,"error":null}\n\ndata: {"n":2,"error":false}\n\ndata: {"n":3,"error":""}\n\ndata: [7]\n\ndata: [DONE]\n\n');
    expect(await collect(chatCompletionStream(endpoint(standIn), ask, new AbortController().signal))).toEqual([{ n: 1, error: null }, { n: 2, error: false }, { n: 3, error: "" }, [7]]);
    standIn.answer = streamInPieces('data: {"n":1}\n\nevent: error\ndata: {"message":"not in the shape"}\n\n');
    const error = await collect(chatCompletionStream(endpoint(standIn), ask, new AbortController().signal)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "provider_error", message: "The provider's stream reported an error" });
  });

  test("data that is not JSON is a malformed stream", async ({ standIn }) => {
    standIn.answer = streamInPieces("data: {not json\n\n");
    const error = await collect(chatCompletionStream(endpoint(standIn), ask, new AbortController().signal)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "provider_error", message: "The provider's stream was malformed" });
  });

  test("an event longer than the limit is refused, not kept", async ({ standIn }) => {
    const piece = "x".repeat(64 * 1024);
    standIn.answer = (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('data: {"text":"');
      // Twice the limit, never ending the event: the stream must stop on its own.
      for (let sent = 0; sent < 2 * MAX_EVENT_CHARS && !res.destroyed; sent += piece.length) res.write(piece);
      res.end();
    };
    const error = await collect(chatCompletionStream(endpoint(standIn), ask, new AbortController().signal)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "provider_error", message: "The provider's stream sent an event over 1048576 characters" });
  });

  test("a kept-alive connection the server closed is left for a new one at once, as one of the retries", async ({ standIn }) => {
    const served = new WeakSet<Socket>();
    const requests: Array<"closed" | "kept" | "own"> = [];
    standIn.answer = (req, res) => {
      // A connection's next request finds it closed, as after a server's idle timeout.
      if (served.has(req.socket)) {
        requests.push("closed");
        req.socket.destroy();
        return;
      }
      served.add(req.socket);
      // A request on a connection of its own says so (`connection: close`), and is sent without a backoff's wait.
      requests.push(req.headers.connection === "close" ? "own" : "kept");
      streamInPieces('data: {"n":1}\n\ndata: [DONE]\n\n', 64)(req, res);
    };
    for (let i = 0; i < 3; i++) expect(await collect(chatCompletionStream(endpoint(standIn, 1), ask, new AbortController().signal))).toEqual([{ n: 1 }]);
    expect(requests).toContain("closed");
    expect(requests.filter((request, i) => request === "closed" && requests[i + 1] !== "own")).toEqual([]);
    // With no retry allowed, it fails and names no address.
    const error = await collect(chatCompletionStream(endpoint(standIn, 0), ask, new AbortController().signal)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "provider_error", message: "Could not connect to the provider" });
  });

  test("a 500 with a hint to wait is tried again after it; a 400 is not, and carries the provider's words", async ({ standIn }) => {
    let calls = 0;
    standIn.answer = (_req, res) => {
      calls += 1;
      if (calls === 1) {
        res.writeHead(500, { "content-type": "application/json", "retry-after-ms": "50" });
        res.end(JSON.stringify({ error: { message: "try later" } }));
        return;
      }
      res.writeHead(400, { "content-type": "text/plain" });
      res.end("no such thing");
    };
    const error = await collect(chatCompletionStream(endpoint(standIn, 2), ask, new AbortController().signal)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "provider_error", message: "400 no such thing" });
    expect(calls).toBe(2);
  });

  test("any 5xx is tried again, unless the provider's x-should-retry says not to; its word also makes a 400 worth another try", async ({ standIn }) => {
    const answers: Array<[number, Record<string, string>]> = [
      [520, {}],
      [400, { "x-should-retry": "true" }],
      [503, { "x-should-retry": "false" }],
    ];
    let calls = 0;
    standIn.answer = (_req, res) => {
      const [status, headers] = answers[calls] ?? [200, {}];
      calls += 1;
      res.writeHead(status, { "content-type": "application/json", "retry-after-ms": "10", ...headers });
      res.end(JSON.stringify({ error: { message: `answer ${calls}` } }));
    };
    const error = await collect(chatCompletionStream(endpoint(standIn, 5), ask, new AbortController().signal)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "provider_error", message: "503 answer 3" });
    expect(calls).toBe(3);
  });

  test("an error in the stream fails the call even without a message", async ({ standIn }) => {
    standIn.answer = streamInPieces('data: {"error":{"message":null,"type":"server_error"}}\n\n');
    const error = await collect(chatCompletionStream(endpoint(standIn), ask, new AbortController().signal)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "provider_error", message: "The provider's stream reported an error" });
  });
});
