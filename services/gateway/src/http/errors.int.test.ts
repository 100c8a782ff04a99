import { describe, expect } from "vitest";
import { connect } from "node:net";
import Fastify from "fastify";
import { ERROR_TITLES, ErrorBody, GalaxyError, UnavailableError } from "@galaxy/contracts";
import { createDb, sql } from "@galaxy/db";
import { freePort } from "@galaxy/testkit";
import { gatewayTest } from "../../test/fixtures";
import { installErrorHandling } from "./errors";

/** docs/errors.md: whatever refuses a request (Node, Fastify or Galaxy) answers in the one shape. */

/** An answer read off the socket: its status, its head as sent, and its body. */
interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** An answer fetched over HTTP, its body an error. */
interface ErrorAnswer {
  status: number;
  body: ErrorBody;
  headers: Headers;
}

/**
 * On the gateway's fixtures (test/fixtures.ts), each set up once per file:
 * - `port`: a gateway listening on a free loopback port;
 * - `raw`: sends raw bytes to it and reads the whole answer (the server closes the connection after it);
 * - `http`: fetches a path of it, whose answer is an error;
 * - `post`: POSTs a body to its /api/auth/login as JSON.
 */
const test = gatewayTest
  .extend("port", { scope: "file" }, async ({ makeGateway }): Promise<number> => {
    const app = await makeGateway();
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    return typeof address === "object" && address ? address.port : 0;
  })
  .extend("raw", { scope: "file" }, async ({ port }) => (request: string): Promise<RawAnswer> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port });
      const chunks: Buffer[] = [];
      socket.on("data", (chunk) => chunks.push(chunk));
      socket.on("error", reject);
      socket.on("close", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const [head = "", ...rest] = text.split("\r\n\r\n");
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body: rest.join("\r\n\r\n") });
      });
      socket.end(request);
    }))
  .extend("http", { scope: "file" }, async ({ port }) => async (path: string, init: RequestInit = {}): Promise<ErrorAnswer> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, init);
    const text = await response.text();
    return { status: response.status, body: ErrorBody.parse(JSON.parse(text)), headers: response.headers };
  })
  .extend("post", { scope: "file" }, async ({ http }) => (body: string): Promise<ErrorAnswer> =>
    http("/api/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body }));

function expectShape(status: number, body: ErrorBody, code: string): void {
  expect(body.code).toBe(code);
  expect(body.error).toBe(ERROR_TITLES[status as keyof typeof ERROR_TITLES]);
  expect(Object.keys(body).every((key) => ["error", "code", "message", "details"].includes(key))).toBe(true);
}

describe("Node's own refusals answer in the documented shape", () => {
  test("headers over 16 KiB are a 431 headers_too_large, in JSON", async ({ raw }) => {
    const response = await raw(`GET /api/agents HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(17 * 1024)}\r\n\r\n`);
    expect(response.status).toBe(431);
    expect(response.headers).toMatch(/content-type: application\/json/i);
    expectShape(431, ErrorBody.parse(JSON.parse(response.body)), "headers_too_large");
  });

  test("bytes that are not HTTP are a 400 malformed_request", async ({ raw }) => {
    const response = await raw("GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n");
    expect(response.status).toBe(400);
    expectShape(400, ErrorBody.parse(JSON.parse(response.body)), "malformed_request");
  });
});

describe("Fastify's own refusals answer in the documented shape", () => {
  test("a bad percent-encoding in the path is a 400 bad_url", async ({ http }) => {
    const response = await http("/api/agents/%E0%A4%A");
    expect(response.status).toBe(400);
    expectShape(400, response.body, "bad_url");
  });

  test("a path segment longer than any id is a 414 uri_too_long", async ({ http }) => {
    const response = await http(`/api/agents/${"a".repeat(500)}`);
    expect(response.status).toBe(414);
    expectShape(414, response.body, "uri_too_long");
  });

  test("an unknown route is a 404 route_not_found, whatever the method", async ({ http }) => {
    for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH"]) {
      const response = await http("/api/nothing-here", { method });
      expect(response.status).toBe(404);
      expectShape(404, response.body, "route_not_found");
    }
  });

  test("a body that is not JSON is a 415 unsupported_media_type on /api and on /hooks", async ({ http }) => {
    for (const [path, type] of [["/api/auth/login", "text/plain"], ["/api/auth/login", "application/x-www-form-urlencoded"], ["/hooks/0193a1b2-0000-7000-8000-000000000001", "text/plain"]] as const) {
      const response = await http(path, { method: "POST", headers: { "content-type": type }, body: "email=a" });
      expect(response.status).toBe(415);
      expectShape(415, response.body, "unsupported_media_type");
      expect(response.body.details).toEqual({ "headers.content-type": "must be application/json" });
    }
  });

  test("malformed and empty JSON are 400 malformed_json; a Content-Length that lies is a 400 too", async ({ raw, http }) => {
    const malformed = await http("/api/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: '{"email":' });
    expectShape(400, malformed.body, "malformed_json");
    const empty = await http("/api/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: "" });
    expectShape(400, empty.body, "malformed_json");
    const lying = await raw('POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{"a":1}');
    expect(lying.status).toBe(400);
    expect(ErrorBody.safeParse(JSON.parse(lying.body)).success).toBe(true);
  });

  test("a body over 1 MiB is a 413 payload_too_large", async ({ http }) => {
    const response = await http("/api/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ pad: "x".repeat(1024 * 1024) }) });
    expect(response.status).toBe(413);
    expectShape(413, response.body, "payload_too_large");
  });

  test("a body with a __proto__ key is refused in the shape, not passed on", async ({ http }) => {
    const response = await http("/api/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: '{"__proto__":{"admin":true},"email":"a@b.co","password":"x"}' });
    expect(response.status).toBe(400);
    expectShape(400, response.body, "malformed_json");
  });

  test("a client that leaves before its body ended is answered 400 bad_content_length, not taken for an engine's outage", async () => {
    const app = Fastify();
    installErrorHandling(app);
    const answered: Array<{ status: number; code: string }> = [];
    app.addHook("onSend", async (_request, reply, payload) => {
      answered.push({ status: reply.statusCode, code: ErrorBody.parse(JSON.parse(String(payload))).code });
      return payload;
    });
    app.post("/x", async () => ({ ok: true }));
    await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const address = app.server.address();
      const socket = connect({ host: "127.0.0.1", port: typeof address === "object" && address ? address.port : 0 });
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"a":1}');
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy();
      for (let i = 0; i < 50 && answered.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(answered).toEqual([{ status: 400, code: "bad_content_length" }]);
    } finally {
      await app.close();
    }
  });
});

describe("what Postgres cannot store is a 400 invalid_value before anything runs", () => {
  test("a NUL character, in a value or a key", async ({ post }) => {
    for (const body of ['{"email":"a\\u0000@b.co","password":"correct horse"}', '{"email":"a@b.co","password":"x","\\u0000":1}']) {
      const response = await post(body);
      expect(response.status).toBe(400);
      expectShape(400, response.body, "invalid_value");
    }
  });

  test("a lone surrogate", async ({ post }) => {
    const response = await post('{"email":"a@b.co","password":"\\ud800"}');
    expectShape(400, response.body, "invalid_value");
    expect(response.body.details).toEqual({ "body.password": expect.stringContaining("surrogate") });
  });

  test("nesting 65 deep, and 5,000 deep, is refused; 64 is not refused for its depth", async ({ post }) => {
    const deep = (n: number) => `{"email":"a@b.co","password":"x","extra":${"[".repeat(n - 1)}${"]".repeat(n - 1)}}`;
    for (const n of [65, 5000]) {
      const response = await post(deep(n));
      expect(response.status).toBe(400);
      expectShape(400, response.body, "invalid_value");
    }
    const within = await post(deep(64));
    expect(within.body.code).not.toBe("invalid_value");
  });

  test("a NUL in the query string or the path", async ({ http }) => {
    const query = await http("/api/agents?cursor=%00", { headers: { authorization: "Bearer x" } });
    expectShape(400, query.body, "invalid_value");
    const path = await http("/api/agents/%00", { headers: { authorization: "Bearer x" } });
    expectShape(400, path.body, "invalid_value");
  });
});

describe("errors that are not Galaxy's own: an outage 503, the input's fault 400, a bug 500", () => {
  async function thrownBy(error: () => Promise<never>) {
    const bare = Fastify();
    installErrorHandling(bare);
    bare.get("/", async () => error());
    const response = await bare.inject({ method: "GET", url: "/" });
    await bare.close();
    return { status: response.statusCode, body: ErrorBody.parse(JSON.parse(response.payload)), retryAfter: response.headers["retry-after"] };
  }

  test("Postgres refusing connections is a 503 service_unavailable with Retry-After", async () => {
    const closed = createDb<unknown>({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/galaxy`, max: 1 });
    const answer = await thrownBy(async () => {
      await sql`select 1`.execute(closed);
      throw new Error("unreachable");
    });
    await closed.destroy();
    expect(answer.status).toBe(503);
    expectShape(503, answer.body, "service_unavailable");
    expect(answer.retryAfter).toMatch(/^\d+$/);
  });

  test("a 503 that retrying cannot cure (a configuration to fix) carries no Retry-After; one that waiting cures does", async () => {
    const tooLarge = await thrownBy(async () => {
      throw new GalaxyError(503, "reply_too_large", "raise max_payload", { retryable: false });
    });
    expectShape(503, tooLarge.body, "reply_too_large");
    expect(tooLarge.retryAfter).toBeUndefined();
    const unavailable = await thrownBy(async () => {
      throw new UnavailableError("the execution service did not answer");
    });
    expectShape(503, unavailable.body, "service_unavailable");
    expect(unavailable.retryAfter).toMatch(/^\d+$/);
  });

  test("a stack overflow, even wrapped as a bus failure, is a 400 invalid_value: retrying cannot help", async () => {
    const overflow = (() => {
      const recurse = (n: number): number => recurse(n + 1) + 1;
      try {
        return recurse(0);
      } catch (error) {
        return error;
      }
    })();
    const answer = await thrownBy(async () => {
      throw new UnavailableError("the execution service did not answer", { cause: overflow });
    });
    expect(answer.status).toBe(400);
    expectShape(400, answer.body, "invalid_value");
  });

  test("anything else is a 500 internal_error that tells nothing of its cause", async () => {
    const answer = await thrownBy(async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'secret')");
    });
    expect(answer.status).toBe(500);
    expectShape(500, answer.body, "internal_error");
    expect(answer.body.message).not.toContain("secret");
  });
});
