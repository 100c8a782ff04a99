import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { inWorkspace } from "@galaxy/db";
import { startHarnessFirst, workerTest } from "../../test/support/fixtures";
import { eventually } from "../../test/support/harness";
import { setTier } from "../quota/quota.repository";

/**
 * A worker runs many executions at once on a few connections (docs/decisions/0037): a run
 * waiting for its model holds no connection. The harness's worker has the default concurrency
 * and a pool of 5 connections.
 */
const ws = uuidv7();
const AT_ONCE = 12;
/** Long enough for every call to be under way before the first answers. */
const MODEL_MS = 3_000;

const test = workerTest();

describe("executions at once", () => {
  test(`${AT_ONCE} model calls are in flight together on a pool of 5 connections, more than the 8 a worker used to run`, async ({ h }) => {
    await inWorkspace(h.db, ws, (tx) => setTier(tx, ws, "enterprise"));
    const agent = await h.activeAgent(ws);
    await h.devModel.control({ reset: true, latencyMs: MODEL_MS });
    try {
      const modelCalls = async () => (await h.devModel.settings()).modelCalls;
      const executions = await Promise.all(Array.from({ length: AT_ONCE }, (_, i) => h.startExecution(ws, agent.id, { message: `call ${i}` })));
      await eventually(async () => ((await modelCalls()) >= AT_ONCE ? true : null), MODEL_MS, `${AT_ONCE} model calls under way`);
      // Every call arrived while none had answered: they were all in flight at once.
      expect(executions.filter((execution) => h.events.of(execution.id).some((event) => event.type === "execution.completed"))).toEqual([]);
      for (const execution of executions) await h.events.waitFor(execution.id, "execution.completed", MODEL_MS + 10_000);
      expect(await modelCalls()).toBe(AT_ONCE);
    } finally {
      await h.devModel.control({ reset: true });
    }
  });
});

startHarnessFirst(test);
