import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { startDevModel, type RunningDevModel } from "@galaxy/dev-model/testing";
import { closeDevModel, type Harness } from "../../test/support/harness";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";

const KEY = "sk-workspace-own-key-7e1c";

const settings = (server: RunningDevModel) => server.settings();

/** An execution's end as its terminal event tells it. */
interface Ended {
  status: string;
  error: unknown;
  output: unknown;
}

/**
 * On the worker's fixtures (`h`: the file's harness, its worker allowed to call loopback,
 * test/support/fixtures.ts), each set up once per file:
 * - `own`: the workspace's own provider endpoint, a second dev model that wants the workspace's
 *   key (closed before the harness: its worker makes no call to it by then);
 * - `run`: starts an execution as a member and answers how it ended.
 */
// The workspace's own endpoint is on loopback: a workspace base URL goes only where OUTBOUND_HOST_ALLOWLIST allows.
const test = workerTest({ maxRetries: 0, outboundHostAllowlist: "127.0.0.1" })
  .extend("own", { scope: "file" }, async ({}, { onCleanup }): Promise<RunningDevModel> => {
    const own = await startDevModel();
    onCleanup(() => closeDevModel(own));
    await own.control({ requireApiKey: KEY });
    return own;
  })
  .extend("run", { scope: "file" }, async ({ h }) => async (ws: string, agentId: string): Promise<Ended> => {
    const queued = await h.startExecution(ws, agentId);
    const done = await h.events.waitFor(queued.id, await waitTerminal(h, queued.id));
    if (done.type !== "execution.completed" && done.type !== "execution.failed") throw new Error(`unexpected ${done.type}`);
    return done.data.execution;
  });
startHarnessFirst(test);

async function waitTerminal(h: Harness, executionId: string): Promise<"execution.completed" | "execution.failed"> {
  for (let i = 0; i < 500; i += 1) {
    const types = h.events.of(executionId).map((event) => event.type);
    if (types.includes("execution.completed")) return "execution.completed";
    if (types.includes("execution.failed")) return "execution.failed";
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`execution ${executionId} did not finish`);
}

describe("workspace provider credentials", () => {
  test("a workspace with its own key calls its own endpoint with it", async ({ h, own, run }) => {
    const ws = uuidv7();
    h.identity.credentials.set(`${ws}:openai`, { apiKey: KEY, baseUrl: `${own.url}/v1` });
    const agent = await h.activeAgent(ws);
    const execution = await run(ws, agent.id);
    expect(execution).toMatchObject({ status: "completed", output: { text: "echo: hello" } });
    expect(await settings(own)).toMatchObject({ lastApiKeyLast4: "7e1c" });
  });

  test.for([
    ["anthropic", "sk-ant-workspace-5a5a"],
    ["google", "AIzaSy-workspace-6b6b"],
  ] as const)("so does an agent on %s, with the workspace's key for it", async ([provider, key], { h, own, run }) => {
    const ws = uuidv7();
    await own.control({ requireApiKey: key });
    try {
      h.identity.credentials.set(`${ws}:${provider}`, { apiKey: key, baseUrl: own.url });
      const agent = await h.activeAgent(ws, { provider });
      const execution = await run(ws, agent.id);
      expect(execution).toMatchObject({ status: "completed", output: { text: "echo: hello" } });
      expect(await settings(own)).toMatchObject({ lastApiKeyLast4: key.slice(-4) });
    } finally {
      await own.control({ requireApiKey: KEY });
    }
  });

  test("a workspace without one uses the environment's endpoint and key", async ({ h, own, run }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    await own.control({ requireApiKey: KEY });
    const before = await settings(own);
    const execution = await run(ws, agent.id);
    expect(execution).toMatchObject({ status: "completed" });
    expect(await settings(h.devModel)).toMatchObject({ lastApiKeyLast4: "-dev" });
    expect(await settings(own)).toEqual(before);
  });

  test("a key the provider refuses fails the execution with provider_error", async ({ h, own, run }) => {
    const ws = uuidv7();
    h.identity.credentials.set(`${ws}:openai`, { apiKey: "sk-wrong-key-0000", baseUrl: `${own.url}/v1` });
    const agent = await h.activeAgent(ws);
    const execution = await run(ws, agent.id);
    expect(execution).toMatchObject({ status: "failed", error: { code: "provider_error" } });
    expect(JSON.stringify(execution)).not.toContain("sk-wrong-key");
  });

  test("a credential is resolved once per minute, and again at once after it changes", async ({ h, own, run }) => {
    const ws = uuidv7();
    h.identity.credentials.set(`${ws}:openai`, { apiKey: KEY, baseUrl: `${own.url}/v1` });
    const agent = await h.activeAgent(ws);
    const before = h.identity.resolves;
    await run(ws, agent.id);
    await run(ws, agent.id);
    expect(h.identity.resolves - before).toBe(1);

    // The workspace deletes its key: the event drops the cached one, the environment's is used.
    h.identity.credentials.delete(`${ws}:openai`);
    await h.registry.publish(ws, "provider_credential.deleted", { provider: "openai" }, uuidv7());
    await new Promise((resolve) => setTimeout(resolve, 200));
    await own.control({ requireApiKey: KEY });
    const execution = await run(ws, agent.id);
    expect(execution).toMatchObject({ status: "completed" });
    expect(h.identity.resolves - before).toBe(2);
  });

  test("while identity cannot answer, nothing runs on the environment's key instead", async ({ h, own }) => {
    const ws = uuidv7();
    h.identity.credentials.set(`${ws}:openai`, { apiKey: KEY, baseUrl: `${own.url}/v1` });
    const agent = await h.activeAgent(ws);
    // The service claim is cached; only the credential look-up meets the outage.
    await h.bus.serviceClaims.get(ws);
    await h.devModel.control({ reset: true });
    await h.identity.stop();
    try {
      const queued = await h.startExecution(ws, agent.id);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(h.events.of(queued.id).map((event) => event.type)).not.toContain("execution.completed");
      expect(await settings(h.devModel)).toMatchObject({ lastApiKeyLast4: null });
    } finally {
      await h.identity.start();
    }
  });
});
