import { describe, expect } from "vitest";
import { randomUUID } from "node:crypto";
import { Agent, ErrorBody, Execution, ExecutionChange, SignupResult } from "@galaxy/contracts";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";
import { parseSse, type SseFrame } from "./sse";

/**
 * `GET /api/executions/stream` (docs/api.md, The event stream): every status change of the
 * workspace's executions, live, filtered by agent, never another workspace's.
 */

interface OpenStream {
  status: number;
  frames: SseFrame[];
  /** The changes received so far. */
  changes(): ExecutionChange[];
  ended: Promise<void>;
  close(): void;
}

/**
 * Set up before the first test: `token`, of a workspace with two active agents, `echo` and `other`.
 * - `openChanges`: opens the stream and keeps reading it in the background until `close()` (or 60 s);
 * - `run`: starts an execution of an agent of the workspace.
 */
const test = galaxyTest()
  .extend("token", { scope: "file", auto: true }, async ({ galaxy }) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "live@example.com", password: "correct horse battery", name: "Live", workspaceName: "Live" } })).accessToken)
  .extend("echo", { scope: "file", auto: true }, async ({ galaxy, token }) => {
    const id = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } })).id;
    await api(galaxy, "POST", `/api/agents/${id}/activate`, { token });
    return id;
  })
  .extend("other", { scope: "file", auto: true }, async ({ galaxy, token }) => {
    const id = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Other", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } })).id;
    await api(galaxy, "POST", `/api/agents/${id}/activate`, { token });
    return id;
  })
  .extend("openChanges", { scope: "file" }, async ({ galaxy }) => async (as: string, query = ""): Promise<OpenStream> => {
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), 60_000);
    const response = await fetch(`${galaxy.url}/api/executions/stream${query}`, { headers: { authorization: `Bearer ${as}`, accept: "text/event-stream" }, signal: abort.signal });
    const frames: SseFrame[] = [];
    const read = async () => {
      if (!response.body || response.status !== 200) return;
      const decoder = new TextDecoder();
      let text = "";
      try {
        for await (const chunk of response.body) {
          text += decoder.decode(chunk, { stream: true });
          const complete = text.lastIndexOf("\n\n");
          if (complete === -1) continue;
          frames.push(...parseSse(text.slice(0, complete + 2)));
          text = text.slice(complete + 2);
        }
      } catch {
        // Aborted by close().
      } finally {
        clearTimeout(timeout);
      }
    };
    return {
      status: response.status,
      frames,
      changes: () => frames.filter((f) => f.event?.startsWith("execution.")).map((f) => ExecutionChange.parse(JSON.parse(f.data ?? ""))),
      ended: read(),
      close: () => abort.abort(),
    };
  })
  .extend("run", { scope: "file" }, async ({ galaxy, token }) => async (agentId: string): Promise<Execution> =>
    dataOf(Execution, await api(galaxy, "POST", `/api/agents/${agentId}/executions`, { token, body: { input: { message: "hi" } } })));
startGalaxyFirst(test);

describe("the workspace's execution stream", () => {
  test("says ready, then each status change of a run: queued, running, completed, with the row but not its input or output", async ({ token, echo, openChanges, run }) => {
    const stream = await openChanges(token);
    expect(stream.status).toBe(200);
    await eventually(async () => (stream.frames[0]?.event === "ready" ? true : undefined), 5_000, "the ready frame");
    const execution = await run(echo);
    const mine = await eventually(async () => {
      const changes = stream.changes().filter((c) => c.executionId === execution.id);
      return changes.some((c) => c.type === "execution.completed") ? changes : undefined;
    }, 20_000, "the run's changes");
    expect(mine.map((c) => [c.type, c.status])).toEqual([
      ["execution.queued", "queued"],
      ["execution.started", "running"],
      ["execution.completed", "completed"],
    ]);
    const completed = mine[2];
    expect(completed?.execution).toMatchObject({ id: execution.id, agentId: echo, status: "completed", trigger: { type: "manual" } });
    expect(Object.keys(completed?.execution ?? {})).not.toContain("input");
    expect(Object.keys(completed?.execution ?? {})).not.toContain("output");
    expect(mine[1]).toMatchObject({ agentId: echo, execution: null });
    stream.close();
    await stream.ended;
  });

  test("filtered by agent, it carries that agent's runs alone; a cancel is a change too", async ({ galaxy, token, echo, other, openChanges, run }) => {
    const stream = await openChanges(token, `?agentId=${other}`);
    await galaxy.devModel.control({ latencyMs: 5_000 });
    try {
      const skipped = await run(echo);
      const watched = await run(other);
      expect((await api(galaxy, "POST", `/api/executions/${watched.id}/cancel`, { token })).status).toBe(202);
      await eventually(async () => (stream.changes().some((c) => c.executionId === watched.id && c.type === "execution.cancelled") ? true : undefined), 20_000, "the cancel");
      expect(stream.changes().every((c) => c.agentId === other)).toBe(true);
      expect(stream.changes().some((c) => c.executionId === skipped.id)).toBe(false);
      await api(galaxy, "POST", `/api/executions/${skipped.id}/cancel`, { token });
    } finally {
      await galaxy.devModel.control({ latencyMs: 0 });
      stream.close();
      await stream.ended;
    }
  });

  test("another workspace's stream sees none of these runs", async ({ galaxy, token, echo, openChanges, run }) => {
    const stranger = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "stranger@example.com", password: "correct horse battery", name: "S", workspaceName: "Elsewhere" } })).accessToken;
    const theirs = await openChanges(stranger);
    const ours = await openChanges(token);
    await eventually(async () => (theirs.frames[0]?.event === "ready" && ours.frames[0]?.event === "ready" ? true : undefined), 5_000, "both streams ready");
    const execution = await run(echo);
    await eventually(async () => (ours.changes().some((c) => c.executionId === execution.id && c.type === "execution.completed") ? true : undefined), 20_000, "our stream to see the run end");
    expect(theirs.changes()).toEqual([]);
    for (const stream of [theirs, ours]) {
      stream.close();
      await stream.ended;
    }
  });

  test("refusals come as JSON before the stream: no token 401, a bad agentId 400, an unknown or foreign agent 404", async ({ galaxy, token, echo }) => {
    const noToken = await api(galaxy, "GET", "/api/executions/stream");
    expect(noToken.status).toBe(401);
    const bad = await api(galaxy, "GET", "/api/executions/stream?agentId=nope", { token });
    expect(bad.status).toBe(400);
    expect(ErrorBody.parse(bad.body).code).toBe("validation_failed");
    const unknown = await api(galaxy, "GET", `/api/executions/stream?agentId=${randomUUID()}`, { token });
    expect(unknown.status).toBe(404);
    expect(ErrorBody.parse(unknown.body).code).toBe("agent_not_found");
    const foreigner = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "foreign@example.com", password: "correct horse battery", name: "F", workspaceName: "Foreign" } })).accessToken;
    const foreign = await api(galaxy, "GET", `/api/executions/stream?agentId=${echo}`, { token: foreigner });
    expect(foreign.status).toBe(404);
    expect(ErrorBody.parse(foreign.body).code).toBe("agent_not_found");
  });
});
