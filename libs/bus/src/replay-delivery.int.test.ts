import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { UnavailableError, ValidationError } from "@galaxy/contracts";
import { busTest } from "../test/fixtures";
import { agentCreated, type StreamInspector } from "../test/support";
import type { Bus } from "./bus";
import { toRawMessage } from "./raw-messages";

/**
 * Replayed messages handed to a consumer's handler (`deliverMany`, what a replay target runs;
 * docs/replay.md): a failure that may pass is waited out in place, a lasting one stops the
 * replay, and only what can never be applied is counted failed and dead-lettered.
 */
const test = busTest
  .extend("publisher", { scope: "file" }, async ({ connect }) => connect("agent-registry"))
  .extend("worker", { scope: "file" }, async ({ connect }) => connect("execution-worker"));

/** What the handler does at each call for the event being replayed: throw the error given, or apply it. */
type Plan = Array<Error | null>;

describe("replayed messages that fail", () => {
  test("one that fails for a reason that passes is tried again in place and applied: not failed, not dead-lettered", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const { raw, plan, applied } = await replayable({ ws, durable: "replay-passes", claim: await claims.sign({ ws }), publisher, worker, inspector });
    plan.push(new UnavailableError("identity did not answer"), new UnavailableError("identity did not answer"), null);
    expect(await worker.deliverMany("replay-passes", [raw], { replayId: uuidv7() })).toEqual([]);
    expect(applied).toEqual([raw.seq, raw.seq]);
    expect(await inspector.deadLetters("replay-passes")).toEqual([]);
  });

  test("one that keeps failing for such a reason stops the replay with its error, rather than count it failed and leave it out", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const { raw, plan, applied } = await replayable({ ws, durable: "replay-stops", claim: await claims.sign({ ws }), publisher, worker, inspector });
    for (let i = 0; i < 10; i++) plan.push(new UnavailableError("identity did not answer"));
    await expect(worker.deliverMany("replay-stops", [raw], { replayId: uuidv7() })).rejects.toThrow("identity did not answer");
    // Five attempts of the replayed message took five of the ten failures planned.
    expect(plan).toHaveLength(5);
    expect(applied).toEqual([raw.seq]);
    expect(await inspector.deadLetters("replay-stops")).toEqual([]);
  });

  test("one whose handler keeps failing for an unknown reason is dead-lettered after the consumer's attempts and counted failed, as a live one would be", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const { raw, plan } = await replayable({ ws, durable: "replay-unknown", claim: await claims.sign({ ws }), publisher, worker, inspector });
    for (let i = 0; i < 10; i++) plan.push(new TypeError("a fault of the handler"));
    expect(await worker.deliverMany("replay-unknown", [raw], { replayId: uuidv7() })).toEqual([{ seq: raw.seq, error: "a fault of the handler" }]);
    // The consumer's three attempts (maxDeliveries), then its dead letter.
    expect(plan).toHaveLength(7);
    expect(await inspector.deadLetters("replay-unknown")).toHaveLength(1);
  });

  test("one that can never be applied is dead-lettered and counted failed, and the replay goes on", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const { raw, plan } = await replayable({ ws, durable: "replay-refused", claim: await claims.sign({ ws }), publisher, worker, inspector });
    plan.push(new ValidationError("this agent cannot be applied", { agent: "refused" }));
    expect(await worker.deliverMany("replay-refused", [raw], { replayId: uuidv7() })).toEqual([{ seq: raw.seq, error: "this agent cannot be applied" }]);
    expect(await inspector.deadLetters("replay-refused")).toHaveLength(1);
  });
});

/**
 * Runs durable `durable` on the workspace's events with a handler following `plan` (then
 * applying), publishes one event, which the live consumer applies, and answers it as a replay
 * reads it from `EVENTS`, with the plan and the sequences applied so far.
 */
async function replayable(deps: { ws: string; durable: string; claim: string; publisher: Bus; worker: Bus; inspector: StreamInspector }) {
  const plan: Plan = [];
  const applied: number[] = [];
  await deps.worker.consume({
    durable: deps.durable,
    filter: `evt.${deps.ws}.>`,
    backoffMs: 5,
    maxDeliveries: 3,
    handler: async (m) => {
      const outcome = plan.shift();
      if (outcome) throw outcome;
      applied.push(m.streamSeq);
    },
  });
  await deps.publisher.publishEvent(agentCreated(deps.ws, deps.claim));
  const subject = `evt.${deps.ws}.agent.created`;
  const deadline = Date.now() + 10_000;
  while (applied.length === 0) {
    if (Date.now() > deadline) throw new Error("the live consumer did not apply the event");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const stored = await deps.inspector.jsm.streams.getMessage(deps.inspector.stream("EVENTS"), { last_by_subj: deps.inspector.subject(subject) });
  if (!stored) throw new Error(`no ${subject} in EVENTS`);
  return { raw: toRawMessage(subject, stored.seq, stored.header, stored.data), plan, applied };
}
