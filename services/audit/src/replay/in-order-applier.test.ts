import { describe, expect, test } from "vitest";
import type { ReadMessage } from "@galaxy/bus";
import type { ReplayApplyResult } from "@galaxy/contracts";
import { testLogger } from "@galaxy/testkit";
import { InOrderApplier, type Progress } from "./in-order-applier";
import { applyInParts, PartlyAppliedError, type PreparedBatch, type ReplayTarget } from "./targets";

function message(seq: number): ReadMessage {
  return { subject: "evt.ws.agent.created", headers: undefined, data: new Uint8Array(), seq };
}

/** A target whose batches answer, in turn, what `answers` says: a result, or an error thrown. */
function targetAnswering(answers: Array<ReplayApplyResult | Error>): ReplayTarget {
  return {
    name: "execution-worker.agent-versions",
    consumer: "execution-worker-agents",
    filter: "evt.*.agent.>",
    prepare: (): PreparedBatch => {
      const answer = answers.shift();
      return { apply: async () => (answer instanceof Error || answer === undefined ? Promise.reject(answer ?? new Error("no answer left")) : answer) };
    },
    reset: async () => 0,
    release: async () => 0,
  };
}

function newProgress(): Progress {
  return { matched: 0, applied: 0, skipped: 0, failed: 0, lastSeq: null, remaining: null };
}

describe("applyInParts: a batch's requests, one after the other", () => {
  test("adds up the answers, in order", async () => {
    const sent: number[] = [];
    const result = await applyInParts([1, 2, 3], async (part) => {
      sent.push(part);
      return { applied: part, failed: part === 2 ? [{ seq: 7, error: "refused" }] : [] };
    });
    expect(sent).toEqual([1, 2, 3]);
    expect(result).toEqual({ applied: 6, failed: [{ seq: 7, error: "refused" }] });
  });

  test("a failure after answered requests carries what they applied; the parts after it are not sent", async () => {
    const sent: number[] = [];
    const outage = new Error("the worker did not answer");
    const failure = await applyInParts([500, 500, 500], async (part) => {
      sent.push(part);
      if (sent.length === 2) throw outage;
      return { applied: part, failed: [] };
    }).catch((error: unknown) => error);
    expect(sent).toEqual([500, 500]);
    expect(failure).toBeInstanceOf(PartlyAppliedError);
    expect(failure).toMatchObject({ message: outage.message, cause: outage, result: { applied: 500, failed: [] } });
  });

  test("a failure of the first request is thrown as it is", async () => {
    const outage = new Error("the worker did not answer");
    await expect(applyInParts([1, 2], async () => Promise.reject(outage))).rejects.toBe(outage);
  });
});

describe("InOrderApplier: a replay's counts", () => {
  test("batches applied in full are counted", async () => {
    const progress = newProgress();
    const applier = new InOrderApplier(targetAnswering([{ applied: 2, failed: [] }, { applied: 1, failed: [{ seq: 4, error: "refused" }] }]), "r", progress, testLogger("replay"));
    await applier.hand([message(1), message(2)]);
    await applier.hand([message(3), message(4)]);
    await applier.settled();
    expect(progress).toMatchObject({ applied: 3, failed: 1 });
  });

  test("a batch that failed part-way counts what it applied, and the replay fails with the cause", async () => {
    const progress = newProgress();
    const outage = new Error("the worker did not answer");
    const applier = new InOrderApplier(targetAnswering([{ applied: 2, failed: [] }, new PartlyAppliedError({ applied: 500, failed: [] }, outage)]), "r", progress, testLogger("replay"));
    await applier.hand([message(1), message(2)]);
    await applier.hand([message(3)]);
    await expect(applier.settled()).rejects.toBe(outage);
    expect(progress).toMatchObject({ applied: 502, failed: 0 });
    // Nothing more is handed once a batch failed.
    await expect(applier.hand([message(4)])).rejects.toBe(outage);
  });
});
