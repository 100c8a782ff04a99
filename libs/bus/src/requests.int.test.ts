import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { GalaxyError, NotFoundError, UnavailableError, type Agent, type Jwks } from "@galaxy/contracts";
import { traceIdOf } from "@galaxy/observability";
import { createDb, sql } from "@galaxy/db";
import { connectTestBus, freePort, TestClaims, incomingTraceparent } from "@galaxy/testkit";
import { busTest } from "../test/fixtures";
import { agent, rejection } from "../test/support";
import type { RequestContext } from "./types";

/** Request-reply across the bus: claims, payloads and the errors that come back (docs/bus.md, "Request-reply"). */

/** The JWKS identity publishes: the claims' keys unless a test rotates them. */
let jwks: Jwks;

/** What the served `registry.agents.get` does; each test sets its own. */
let onAgentGet: (req: { id: string }, ctx: RequestContext) => Promise<Agent>;

const test = busTest
  // Plays identity: answers `svc.identity.jwks` with whatever `jwks` holds (keys only, no service claims).
  .extend("claims", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const claims = await TestClaims.create();
    jwks = claims.jwks;
    const identity = await connectTestBus(env, "identity", { loadJwks: async () => jwks });
    onCleanup(() => identity.close());
    identity.serve("identity.jwks", async () => jwks);
    return claims;
  })
  .extend("gatewayBus", { scope: "file" }, async ({ connect }) => connect("gateway"))
  // The agent registry answering `registry.agents.get` with `onAgentGet`, for the whole file (auto).
  .extend("server", { scope: "file", auto: true }, async ({ connect }) => {
    const server = await connect("agent-registry");
    server.serve("registry.agents.get", (req, ctx) => onAgentGet(req, ctx));
    await server.flush();
    return server;
  });

describe("requests", () => {
  test("a request reaches the server with its claim verified, and the reply comes back parsed", async ({ claims, gatewayBus: caller }) => {
    const ws = uuidv7();
    const sub = uuidv7();
    const claim = await claims.sign({ ws, sub, role: "member" });
    const seen: RequestContext[] = [];
    onAgentGet = async (req, ctx) => {
      seen.push(ctx);
      return agent(ws, { id: req.id });
    };
    const id = uuidv7();
    const reply = await caller.request("registry.agents.get", { id }, { claim, workspaceId: ws });
    expect(reply.id).toBe(id);
    expect(reply.workspaceId).toBe(ws);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.claim).toMatchObject({ ws, sub, role: "member", act: "user" });
  });

  test("the handler's event context keeps the claim, correlation and trace", async ({ claims, gatewayBus: caller }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const traceparent = incomingTraceparent();
    let context: ReturnType<RequestContext["eventContext"]> | undefined;
    onAgentGet = async (req, ctx) => {
      context = ctx.eventContext();
      return agent(ws, { id: req.id });
    };
    await caller.request("registry.agents.get", { id: uuidv7() }, { claim, workspaceId: ws, traceparent, correlationId: "corr-1", clientIp: "203.0.113.9" });
    expect(context).toMatchObject({ claim, correlationId: "corr-1", causationId: "corr-1", clientIp: "203.0.113.9" });
    // No SDK runs here: the trace passes on unchanged (with one, it is the server span's; libs/observability's tests).
    expect(traceIdOf(context?.traceparent ?? "")).toBe(traceIdOf(traceparent));
    expect(context?.traceparent).toBe(traceparent);
  });

  test("an expired claim is refused with 401 claim_expired before the handler runs", async ({ claims, gatewayBus: caller }) => {
    const ws = uuidv7();
    let ran = false;
    onAgentGet = async (req) => {
      ran = true;
      return agent(ws, { id: req.id });
    };
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws, ttlS: -60 }), workspaceId: ws }));
    expect(error).toMatchObject({ status: 401, code: "claim_expired" });
    expect(ran).toBe(false);
  });

  test("a claim for workspace A with Gx-Workspace-Id B is refused", async ({ claims, gatewayBus: caller }) => {
    const a = uuidv7();
    const b = uuidv7();
    let ran = false;
    onAgentGet = async (req) => {
      ran = true;
      return agent(a, { id: req.id });
    };
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws: a }), workspaceId: b }));
    expect(error).toMatchObject({ status: 401, code: "claim_workspace_mismatch" });
    expect(ran).toBe(false);
  });

  test("a request that needs a claim and has none is refused", async ({ gatewayBus: caller }) => {
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }));
    expect(error).toMatchObject({ status: 401, code: "claim_missing" });
  });

  test("a claim signed by a key identity does not publish is refused", async ({ gatewayBus: caller }) => {
    const stranger = await TestClaims.create();
    const ws = uuidv7();
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await stranger.sign({ ws }), workspaceId: ws }));
    expect(error.status).toBe(401);
    expect(error.code).toBe("claim_unknown_key");
  });

  test("an access token is not accepted as a claim", async ({ claims, gatewayBus: caller }) => {
    const ws = uuidv7();
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }, "at+jwt"), workspaceId: ws }));
    expect(error).toMatchObject({ status: 401, code: "claim_wrong_type" });
  });

  test("a payload that fails its schema is a 400 naming the field", async ({ claims, gatewayBus: caller }) => {
    const ws = uuidv7();
    const error = await rejection(caller.request("registry.agents.get", { id: "not-a-uuid" }, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(error.status).toBe(400);
    expect(error.code).toBe("validation_failed");
    expect(Object.keys(error.details ?? {})).toEqual(["id"]);
  });

  test("with no server for the operation, the caller gets a 503 UnavailableError at once", async ({ gatewayBus: caller }) => {
    const started = Date.now();
    const error = await rejection(caller.request("registry.agents.activate", { id: uuidv7() }));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.status).toBe(503);
    expect(error.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test("a GalaxyError thrown by the handler arrives as that GalaxyError", async ({ claims, gatewayBus: caller }) => {
    const ws = uuidv7();
    const id = uuidv7();
    onAgentGet = async (req) => {
      throw new NotFoundError("agent", req.id);
    };
    const error = await rejection(caller.request("registry.agents.get", { id }, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(error).toBeInstanceOf(GalaxyError);
    expect(error.status).toBe(404);
    expect(error.code).toBe("agent_not_found");
    expect(error.message).toBe(`No agent ${id} in this workspace`);
  });

  test("a crashing handler is a 500 internal_error that leaks nothing of the crash", async ({ claims, gatewayBus: caller }) => {
    const ws = uuidv7();
    onAgentGet = async () => {
      throw new TypeError("cannot read properties of undefined (config for 10.1.2.3:5432 password=hunter2)");
    };
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(error.status).toBe(500);
    expect(error.code).toBe("internal_error");
    expect(JSON.stringify({ message: error.message, body: error.toBody() })).not.toMatch(/hunter2|10\.1\.2\.3|ECONNREFUSED/);
  });

  test("a handler whose database refuses connections answers 503 service_unavailable, never internal_error, and leaks nothing", async ({ claims, gatewayBus: caller }) => {
    const ws = uuidv7();
    const down = createDb<unknown>({ connectionString: `postgres://postgres:hunter2@127.0.0.1:${await freePort()}/galaxy`, max: 1 });
    try {
      onAgentGet = async (req) => {
        await sql`select 1`.execute(down);
        return agent(ws, { id: req.id });
      };
      const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }), workspaceId: ws }));
      expect(error).toMatchObject({ status: 503, code: "service_unavailable", retryable: true });
      expect(JSON.stringify(error.toBody())).not.toMatch(/hunter2|127\.0\.0\.1|ECONNREFUSED/);
    } finally {
      await down.destroy();
    }
  });

  test("input too deep to serialize is the caller's 400 payload_too_deep, on either side, never 503", async ({ claims, gatewayBus: caller }) => {
    const ws = uuidv7();
    let deep: unknown = "bottom";
    for (let i = 0; i < 200_000; i++) deep = { deeper: deep };
    // The caller cannot even serialize it: refused before anything is sent.
    const sent = await rejection(caller.request("registry.agents.get", { id: uuidv7(), extra: deep }, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(sent).toMatchObject({ status: 400, code: "payload_too_deep" });
    // A responder that overflows the stack walking what it was given answers the same.
    onAgentGet = async () => {
      JSON.stringify(deep);
      throw new Error("unreachable: the serialization above overflows");
    };
    const served = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(served).toMatchObject({ status: 400, code: "payload_too_deep" });
  });

  test("a key added to the JWKS is picked up when a claim signed by it arrives, and refused once revoked", async ({ claims, gatewayBus: caller, server }) => {
    const ws = uuidv7();
    onAgentGet = async (req) => agent(ws, { id: req.id });
    // The verifier has loaded the JWKS by now; it refetches at most once a second.
    await caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }), workspaceId: ws });
    const rotated = await TestClaims.create();
    jwks = { keys: [...claims.jwks.keys, ...rotated.jwks.keys] };
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const rotatedClaim = await rotated.sign({ ws });
      const reply = await caller.request("registry.agents.get", { id: uuidv7() }, { claim: rotatedClaim, workspaceId: ws });
      expect(reply.workspaceId).toBe(ws);

      // Revoking the key: it leaves the JWKS and the verifier forgets what it had verified.
      jwks = claims.jwks;
      server.claims.reset();
      const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: rotatedClaim, workspaceId: ws }));
      expect(error).toMatchObject({ status: 401, code: "claim_unknown_key" });
    } finally {
      jwks = claims.jwks;
    }
  });
});

describe("close", () => {
  test("drains: a request being handled finishes and its reply arrives", async ({ env, claims, gatewayBus: caller }) => {
    const ws = uuidv7();
    const draining = await connectTestBus(env, "execution-worker");
    let started: () => void = () => {};
    const handling = new Promise<void>((resolve) => (started = resolve));
    let finished = false;
    // Another instance of the same service may still be serving execution.get; this op is its own.
    draining.serve("registry.agents.list", async () => {
      started();
      await new Promise((resolve) => setTimeout(resolve, 300));
      finished = true;
      return { items: [agent(ws)], pagination: { total: 1, limit: 20, offset: 0, hasMore: false } };
    });
    await draining.flush();
    const reply = caller.request("registry.agents.list", {}, { claim: await claims.sign({ ws }), workspaceId: ws });
    await handling;
    await draining.close();
    expect(finished).toBe(true);
    const page = await reply;
    expect(page.items).toHaveLength(1);
    expect(draining.isConnected()).toBe(false);
    const after = await rejection(caller.request("registry.agents.list", {}, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(after.status).toBe(503);
  });
});
