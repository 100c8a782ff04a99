import { beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { ClaimVerifier } from "@galaxy/bus";
import { Execution, type ExecutionStatus } from "@galaxy/contracts";
import { createMetrics } from "@galaxy/observability";
import { TestClaims } from "@galaxy/testkit";
import { parsingSerializerCompiler } from "../http/response-serializer";
import { FinishedExecutions } from "./finished-executions";

const WS = "0193a1f0-0000-7000-8000-00000000000a";
const OTHER_WS = "0193a1f0-0000-7000-8000-00000000000b";

function execution(n: number, status: ExecutionStatus = "completed", text = "echo: hello"): Execution {
  return {
    id: `0193a1f0-0000-7000-8000-${String(n).padStart(12, "0")}`,
    workspaceId: WS,
    agentId: "0193a1f0-0000-7000-8000-0000000000ff",
    agentVersion: 1,
    status,
    trigger: { type: "manual" },
    input: { message: "hello" },
    output: status === "completed" ? { text } : null,
    error: null,
    usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3, costUsd: 0 },
    durationMs: status === "completed" ? 4 : null,
    createdAt: "2026-12-08T00:00:00.000Z",
    startedAt: "2026-12-08T00:00:00.001Z",
    completedAt: status === "completed" ? "2026-12-08T00:00:00.005Z" : null,
  };
}

let claims: TestClaims;
/** A member's claim in the workspace, as identity signs it. */
let claim: string;
beforeAll(async () => {
  claims = await TestClaims.create();
  claim = await claims.sign({ ws: WS, role: "viewer" });
});

function kept(maxBytes = 1024 * 1024) {
  const registry = createMetrics("gateway");
  return { finished: new FinishedExecutions(maxBytes, registry, new ClaimVerifier({ loadJwks: async () => claims.jwks })), registry };
}

describe("FinishedExecutions", () => {
  test("answers a finished execution's later reads with the worker's answer, byte for byte, for its workspace only", async () => {
    const { finished } = kept();
    const done = execution(1);
    const body = finished.answerFromWorker(WS, done);
    expect(JSON.parse(body)).toEqual({ data: done });
    expect(await finished.answer(claim, WS, done.id)).toBe(body);
    expect(await finished.answer(await claims.sign({ ws: OTHER_WS }), OTHER_WS, done.id)).toBeUndefined();
  });

  test("the answer is the bytes the route's response schema would have written", () => {
    const { finished } = kept();
    const serialize = parsingSerializerCompiler({ schema: z.object({ data: Execution }), method: "GET", url: "/api/executions/:id" });
    const done = Execution.parse({ ...execution(1), input: { nested: { b: 1, a: [true, null] } }, output: { text: "é ✓", json: { x: 1 } } });
    expect(finished.answerFromWorker(WS, done)).toBe(serialize({ data: done }));
  });

  test("a claim that fails the worker's check is not answered from memory: expired, of another workspace, or not a claim", async () => {
    const { finished, registry } = kept();
    finished.answerFromWorker(WS, execution(1));
    expect(await finished.answer(await claims.sign({ ws: WS, ttlS: -1 }), WS, execution(1).id)).toBeUndefined();
    expect(await finished.answer(await claims.sign({ ws: OTHER_WS }), WS, execution(1).id)).toBeUndefined();
    expect(await finished.answer("not-a-claim", WS, execution(1).id)).toBeUndefined();
    expect(await registry.metrics()).not.toMatch(/source="memory"/);
    expect(await finished.answer(claim, WS, execution(1).id)).toBeDefined();
  });

  test.each(["failed", "cancelled", "timed_out"] as const)("keeps a %s execution", async (status) => {
    const { finished } = kept();
    finished.answerFromWorker(WS, execution(1, status));
    expect(await finished.answer(claim, WS, execution(1).id)).toBeDefined();
  });

  test.each(["queued", "running"] as const)("never keeps a %s execution: its next read asks the worker", async (status) => {
    const { finished } = kept();
    const body = finished.answerFromWorker(WS, execution(1, status));
    expect(JSON.parse(body)).toEqual({ data: execution(1, status) });
    expect(await finished.answer(claim, WS, execution(1).id)).toBeUndefined();
    expect(finished.size).toBe(0);
  });

  test("an answer the worker gave for another workspace than the caller's is not kept", async () => {
    const { finished } = kept();
    finished.answerFromWorker(OTHER_WS, execution(1));
    expect(await finished.answer(await claims.sign({ ws: OTHER_WS }), OTHER_WS, execution(1).id)).toBeUndefined();
  });

  test("stays within its memory, dropping the answer read least recently", async () => {
    const one = JSON.stringify({ data: execution(1) });
    const key = `${WS}/${execution(1).id}`;
    // Room for twenty answers of this size, counted at two bytes a character.
    const { finished } = kept(20 * 2 * (key.length + one.length) + 10);
    for (let n = 1; n <= 20; n++) finished.answerFromWorker(WS, execution(n));
    expect(await finished.answer(claim, WS, execution(1).id)).toBeDefined();
    finished.answerFromWorker(WS, execution(21));
    expect(finished.size).toBe(20);
    expect(await finished.answer(claim, WS, execution(2).id)).toBeUndefined();
    for (const n of [1, 3, 20, 21]) expect(await finished.answer(claim, WS, execution(n).id), `execution ${n}`).toBeDefined();
  });

  test("an answer larger than a sixteenth of the memory is sent but not kept, so it cannot push out the rest", async () => {
    const { finished } = kept(32 * 1024);
    finished.answerFromWorker(WS, execution(1));
    const large = execution(2, "completed", "x".repeat(1_200));
    expect(JSON.parse(finished.answerFromWorker(WS, large))).toEqual({ data: large });
    expect(await finished.answer(claim, WS, large.id)).toBeUndefined();
    expect(await finished.answer(claim, WS, execution(1).id)).toBeDefined();
  });

  test("with no memory (GATEWAY_FINISHED_EXECUTIONS_MB=0) nothing is kept", async () => {
    const { finished } = kept(0);
    finished.answerFromWorker(WS, execution(1));
    expect(await finished.answer(claim, WS, execution(1).id)).toBeUndefined();
  });

  test("counts reads by where their answer came from, and the memory held", async () => {
    const { finished, registry } = kept();
    finished.answerFromWorker(WS, execution(1));
    await finished.answer(claim, WS, execution(1).id);
    await finished.answer(claim, WS, execution(1).id);
    await finished.answer(claim, WS, execution(2).id);
    const text = await registry.metrics();
    expect(text).toMatch(/galaxy_gateway_execution_reads_total\{source="worker"[^}]*\} 1\n/);
    expect(text).toMatch(/galaxy_gateway_execution_reads_total\{source="memory"[^}]*\} 2\n/);
    expect(heldBytes(text)).toBeGreaterThan(0);
  });

  test("an execution answered again by the worker replaces its answer and counts its memory once", async () => {
    const { finished, registry } = kept();
    finished.answerFromWorker(WS, execution(1));
    const once = heldBytes(await registry.metrics());
    finished.answerFromWorker(WS, execution(1));
    expect(heldBytes(await registry.metrics())).toBe(once);
    expect(finished.size).toBe(1);
  });
});

function heldBytes(metrics: string): number {
  const held = /galaxy_gateway_finished_executions_bytes(?:\{[^}]*\})? (\d+)\n/.exec(metrics);
  if (!held?.[1]) throw new Error("no galaxy_gateway_finished_executions_bytes sample");
  return Number(held[1]);
}
