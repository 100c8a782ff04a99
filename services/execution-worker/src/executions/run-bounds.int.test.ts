import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { UnavailableError, type Provider, type ResolvedCredential } from "@galaxy/contracts";
import { inWorkspace } from "@galaxy/db";
import { freePort, testLogger } from "@galaxy/testkit";
import { createLogger } from "@galaxy/observability";
import { parseAllowlist } from "@galaxy/webhooks";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";
import { cancelQueued, claimQueuedExecutions, listSteps, type ClaimedExecution } from "./executions.repository";
import { runExecution, type RunDeps } from "./run";
import { ModelProviders, type ModelAnswer, type WorkspaceCredentials } from "./providers";
import type { RunSignals } from "./scheduler";
import { CallbackOrders } from "../callbacks";

/**
 * What a running pipeline waits on must never keep its execution `running` (and its lease
 * renewed) for good: a step deaf to the signals (here the look-up of the workspace's provider
 * key) still ends at the agent's time limit or at a stop, and identity unable to answer that
 * look-up sends the execution back to the queue instead of leaving it to its lease.
 *
 * The worker's scheduler claims nothing here (concurrency 0): each test claims its execution
 * and runs the pipeline itself, with the credential look-up it needs.
 */
const ws = uuidv7();
const owner = "run-bounds-test";
const LEASE_MS = 30_000;

/** A look-up that never answers, whatever the signals say (a request lost in a reconnect). */
const deaf: WorkspaceCredentials = { get: () => new Promise<ResolvedCredential | null>(() => {}) };

function signals(): { signals: RunSignals; stop: AbortController } {
  const stop = new AbortController();
  return { signals: { lease: new AbortController().signal, stop: stop.signal, cancel: new AbortController().signal }, stop };
}

const test = workerTest({ concurrency: 0 })
  .extend("depsWith", { scope: "file" }, async ({ h, relay }) => (credentials: WorkspaceCredentials): RunDeps => ({
    db: h.db,
    bus: h.bus,
    relay,
    providers: new ModelProviders({ credentials, openaiApiKey: "galaxy-dev", openaiBaseUrl: `${h.devModel.url}/v1`, maxRetries: 0 }),
    logger: testLogger("execution-worker"),
    owner,
    defaultTimeoutMs: 600_000,
    maxAttempts: 3,
    wakeOthers: () => {},
    tools: { policy: parseAllowlist(""), masterKey: undefined, timeoutMs: 10_000 },
    callbacks: new CallbackOrders({ retryWindowMs: 86_400_000, wake: () => {} }),
    // The start written before the model call, as before decision 0030: the tests watch its step.
    startWriteDelayMs: 0,
  }))
  .extend("queuedAndClaimed", { scope: "file" }, async ({ h }) => async (timeoutMs?: number): Promise<ClaimedExecution> => {
    const agent = await h.activeAgent(ws, timeoutMs === undefined ? {} : { timeoutMs });
    const queued = await h.startExecution(ws, agent.id);
    const claimed = await claimQueuedExecutions(h.db, owner, 1, LEASE_MS);
    expect(claimed).toEqual([{ id: queued.id, workspaceId: ws }]);
    return { id: queued.id, workspaceId: ws };
  })
  .extend("steps", { scope: "file" }, async ({ h }) => async (executionId: string) =>
    (await inWorkspace(h.db, ws, (tx) => listSteps(tx, executionId))).map((step) => [step.name, step.status, (step.detail as { reason?: string }).reason ?? null]));
startHarnessFirst(test);

describe("a pipeline waiting on a step that never ends", () => {
  test("ends the execution timed_out at the agent's timeoutMs", async ({ h, depsWith, queuedAndClaimed, steps }) => {
    const claimed = await queuedAndClaimed(1_000);
    const { signals: s } = signals();
    expect(await runExecution(depsWith(deaf), claimed, s)).toBe("finished");
    expect(await h.row(ws, claimed.id)).toMatchObject({ status: "timed_out", error: { code: "timeout" }, lease_owner: null });
    expect(await steps(claimed.id)).toEqual([["model_call", "failed", null]]);
  });

  test("hands the execution back when the worker stops", async ({ h, depsWith, queuedAndClaimed, steps }) => {
    const claimed = await queuedAndClaimed();
    const { signals: s, stop } = signals();
    const run = runExecution(depsWith(deaf), claimed, s);
    // Wait until the pipeline is inside the model call's step, stuck on the look-up.
    await expect.poll(() => steps(claimed.id)).toEqual([["model_call", "running", null]]);
    stop.abort(new Error("the worker is stopping"));
    expect(await run).toBe("handed_back");
    expect(await h.row(ws, claimed.id)).toMatchObject({ status: "queued", attempt: 0, lease_owner: null });
    expect(await steps(claimed.id)).toEqual([["model_call", "abandoned", "worker_stopped"]]);
    // Out of the queue, so the next test claims its own.
    await inWorkspace(h.db, ws, (tx) => cancelQueued(tx, claimed.id, new Date()));
  });
});

describe("a model call aborted mid-answer", () => {
  test("is not taken for a whole answer: a cancel while the stream ends quietly records cancelled", async ({ h, depsWith, queuedAndClaimed, steps }) => {
    const claimed = await queuedAndClaimed();
    const cancel = new AbortController();
    // An SDK that, aborted while it streams, ends the stream quietly with what came so far.
    class QuietOnAbort extends ModelProviders {
      override async complete(): Promise<ModelAnswer> {
        cancel.abort(new Error("the execution was cancelled"));
        return { text: "half an ans", toolCalls: [], inputTokens: 3, outputTokens: 2, totalTokens: 5 };
      }
    }
    const deps = { ...depsWith({ get: async () => null }), providers: new QuietOnAbort({ openaiApiKey: "galaxy-dev", openaiBaseUrl: `${h.devModel.url}/v1` }) };
    const s: RunSignals = { lease: new AbortController().signal, stop: new AbortController().signal, cancel: cancel.signal };
    expect(await runExecution(deps, claimed, s)).toBe("finished");
    expect(await h.row(ws, claimed.id)).toMatchObject({ status: "cancelled", output: null, error: { code: "cancelled" } });
    expect(await steps(claimed.id)).toEqual([["model_call", "failed", null]]);
  });
});

describe("identity unable to resolve the workspace's provider key", () => {
  test("sends the execution back to the queue, its attempt uncounted, instead of leaving it running until its lease ends", async ({ h, depsWith, queuedAndClaimed, steps }) => {
    const claimed = await queuedAndClaimed();
    let asked = 0;
    const unavailable: WorkspaceCredentials = {
      get: async (_workspaceId: string, _provider: Provider) => {
        asked += 1;
        throw new UnavailableError("the identity service did not answer");
      },
    };
    const { signals: s } = signals();
    expect(await runExecution(depsWith(unavailable), claimed, s)).toBe("unavailable");
    expect(asked).toBe(1);
    expect(await h.row(ws, claimed.id)).toMatchObject({ status: "queued", attempt: 0, lease_owner: null, lease_expires_at: null });
    expect(await steps(claimed.id)).toEqual([["model_call", "abandoned", "dependency_unavailable"]]);

    // Once identity answers, the next attempt runs it through.
    const again = await claimQueuedExecutions(h.db, owner, 1, LEASE_MS);
    expect(again).toEqual([claimed]);
    expect(await runExecution(depsWith({ get: async () => null }), claimed, signals().signals)).toBe("finished");
    expect(await h.row(ws, claimed.id)).toMatchObject({ status: "completed", attempt: 1, output: { text: "echo: hello" } });
    expect(await steps(claimed.id)).toEqual([
      ["model_call", "abandoned", "dependency_unavailable"],
      ["model_call", "completed", null],
      ["output", "completed", null],
    ]);
  });
});

describe("a model call that fails", () => {
  test("fails the execution with what users may read, and the worker's log says why", async ({ h, depsWith, queuedAndClaimed }) => {
    const claimed = await queuedAndClaimed();
    // A port nothing listens on: the connection is refused.
    const closed = await freePort();
    const lines: string[] = [];
    const logger = createLogger({ service: "execution-worker", level: "warn", destination: { write: (line: string) => void lines.push(line) } });
    const deps = { ...depsWith({ get: async () => null }), logger, providers: new ModelProviders({ credentials: { get: async () => null }, openaiApiKey: "galaxy-dev", openaiBaseUrl: `http://127.0.0.1:${closed}/v1`, maxRetries: 0 }) };
    expect(await runExecution(deps, claimed, signals().signals)).toBe("finished");
    expect(await h.row(ws, claimed.id)).toMatchObject({ status: "failed", error: { code: "provider_error", message: "Could not connect to the provider" } });
    const failures = lines.map((line) => JSON.parse(line) as { msg: string; executionId?: string; code?: string; cause?: { code?: string; message?: string } }).filter((line) => line.msg === "the model call failed");
    expect(failures).toEqual([expect.objectContaining({ executionId: claimed.id, code: "provider_error", cause: expect.objectContaining({ code: "ECONNREFUSED", message: expect.stringContaining(`127.0.0.1:${closed}`) }) })]);
  });
});

