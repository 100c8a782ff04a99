import { randomUUID } from "node:crypto";
import { expect, test } from "vitest";
import { NotFoundError } from "./errors";
import { ReplyEnvelope, REQUESTS, requestSubject, StartExecutionRequest } from "./requests";

test("a request's subject is svc.<service>.<operation>", () => {
  expect(requestSubject("execution.start")).toBe("svc.execution.start");
  expect(requestSubject("registry.agents.get")).toBe("svc.registry.agents.get");
});

test("only sign-up, login, exchange, user sync and key look-ups go without a claim", () => {
  const withoutClaim = Object.entries(REQUESTS)
    .filter(([, entry]) => entry.claim === "none")
    .map(([name]) => name)
    .sort();
  expect(withoutClaim).toEqual([
    "identity.api_keys.authenticate", "identity.auth.exchange", "identity.auth.login", "identity.auth.signup", "identity.claims.issue", "identity.claims.service", "identity.jwks",
    "identity.users.sync",
    // A webhook delivery names its trigger, and the trigger its workspace: only the gateway's NATS user may ask.
    "registry.triggers.resolve",
    // Operator requests: only the galaxy-cli NATS user may make them (infra/nats/); the operator claim only the gateway.
    "identity.claims.operator", "identity.operator.grant_system_admin", "identity.operator.keys.list", "identity.operator.keys.revoke", "identity.operator.keys.rotate",
    // The CLI's own operator claim (replays, dead letters): galaxy-cli's NATS user alone.
    "identity.operator.claim",
  ].sort());
});

test("a reply envelope is either data or a typed error", () => {
  expect(ReplyEnvelope.safeParse({ ok: true, data: { id: 1 } }).success).toBe(true);
  expect(ReplyEnvelope.safeParse({ ok: false, status: 404, error: new NotFoundError("agent").toBody() }).success).toBe(true);
  expect(ReplyEnvelope.safeParse({ ok: false, status: 418, error: new NotFoundError("agent").toBody() }).success).toBe(false);
  expect(ReplyEnvelope.safeParse({ ok: false, status: 404, error: { error: "Not Found", code: "Not-Snake", message: "x" } }).success).toBe(false);
  expect(ReplyEnvelope.safeParse({ data: {} }).success).toBe(false);
});

test("an execution started without a trigger is a manual one", () => {
  const agentId = randomUUID();
  expect(StartExecutionRequest.parse({ agentId, input: { message: "hi" } })).toEqual({ agentId, input: { message: "hi" }, trigger: { type: "manual" } });
  expect(StartExecutionRequest.safeParse({ agentId, input: {}, extra: true }).success).toBe(false);
});
