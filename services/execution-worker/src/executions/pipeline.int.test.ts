import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { TERMINAL_STATUSES, type Execution } from "@galaxy/contracts";
import { inWorkspace } from "@galaxy/db";
import { eventually } from "../../test/support/harness";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";
import { listSteps } from "./executions.repository";

/** The pipeline's limits, with the worker alone (a fake registry): tool rounds and the timeout over all steps. */
const ws = uuidv7();

const test = workerTest({ maxToolRounds: 1 }).extend("run", { scope: "file" }, async ({ h }) => async (agentId: string, message: string): Promise<Execution> => {
  const queued = await h.startExecution(ws, agentId, { message });
  const claim = await h.claims.sign({ ws, role: "member" });
  return eventually(async () => {
    const execution = await h.caller.request("execution.get", { id: queued.id }, { claim, workspaceId: ws });
    return TERMINAL_STATUSES.has(execution.status) ? execution : null;
  }, 15_000, `execution ${queued.id} to finish`);
});
startHarnessFirst(test);

describe("the pipeline's limits", () => {
  test("a model that still asks for a tool after the last round fails the execution with tool_rounds_exceeded, its tokens counted", async ({ h, run }) => {
    const agent = await h.activeAgent(ws, { model: "galaxy-dev-tools", tools: [{ type: "builtin", name: "calculator" }, { type: "builtin", name: "current_time" }] });
    const done = await run(agent.id, "1 + 1");
    expect(done.status).toBe("failed");
    expect(done.error).toEqual({ code: "tool_rounds_exceeded", message: "The model still asked for tools after 1 rounds of tool calls" });
    expect(done.usage.inputTokens).toBeGreaterThan(0);
    const steps = await inWorkspace(h.db, ws, (tx) => listSteps(tx, done.id));
    expect(steps.map((step) => [step.name, step.status])).toEqual([
      ["model_call", "completed"],
      ["tool_call", "completed"],
      ["model_call", "failed"],
    ]);
  });

  test("one round is enough for an agent with one tool", async ({ h, run }) => {
    const agent = await h.activeAgent(ws, { model: "galaxy-dev-tools", tools: [{ type: "builtin", name: "calculator" }] });
    const done = await run(agent.id, "1 + 1");
    expect(done).toMatchObject({ status: "completed", output: { text: "echo: 1 + 1 (tool: 2)" } });
  });

  test("the agent's timeoutMs covers the tool rounds too: a slow model past it times the execution out", async ({ h, run }) => {
    const agent = await h.activeAgent(ws, { model: "galaxy-dev-tools", timeoutMs: 4_000, tools: [{ type: "builtin", name: "calculator" }] });
    await h.devModel.control({ latencyMs: 2_500 });
    try {
      const done = await run(agent.id, "1 + 1");
      expect(done.status).toBe("timed_out");
      expect(done.error?.code).toBe("timeout");
      // The first call answered within the limit; its tool ran; the second call was cut off.
      const steps = await inWorkspace(h.db, ws, (tx) => listSteps(tx, done.id));
      expect(steps.map((step) => [step.name, step.status])).toEqual([
        ["model_call", "completed"],
        ["tool_call", "completed"],
        ["model_call", "failed"],
      ]);
    } finally {
      await h.devModel.control({ reset: true });
    }
  });
});
