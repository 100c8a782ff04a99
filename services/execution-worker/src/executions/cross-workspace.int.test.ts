import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { EventEnvelope, GalaxyError, HEADER } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { findPinnableAgent } from "../agents/agents.repository";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";
import { eventually } from "../../test/support/harness";

interface Report {
  subject: string;
  header: (name: string) => string | undefined;
  event: EventEnvelope;
}

const from = { clientIp: "198.51.100.23", userAgent: "curl/8.5.0" };

const test = workerTest({ maxRetries: 0 })
  /** Every cross-workspace report on the bus, watched from before the first test. */
  .extend("reports", { scope: "file", auto: true }, async ({ h }) => {
    const reports: Report[] = [];
    const decoder = new TextDecoder();
    h.caller.watch("evt.*.security.cross_workspace_attempt", (msg) => {
      const headers = msg.headers;
      reports.push({ subject: h.caller.unprefixed(msg.subject), header: (name) => headers?.get(name) || undefined, event: EventEnvelope.parse(JSON.parse(decoder.decode(msg.data))) });
    });
    await h.caller.flush();
    return reports;
  })
  .extend("as", { scope: "file" }, async ({ h }) => async (ws: string, role: "member" | "viewer" = "member"): Promise<{ ws: string; sub: string; claim: string }> => {
    const sub = uuidv7();
    return { ws, sub, claim: await h.claims.sign({ ws, sub, role }) };
  })
  .extend("reportsIn", { scope: "file" }, async ({ reports }) => (ws: string) => reports.filter((r) => r.event.workspaceId === ws))
  /** Waits a moment for anything still on its way, then gives what arrived. */
  .extend("settledReports", { scope: "file" }, async ({ reportsIn }) => async (ws: string): Promise<Report[]> => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return reportsIn(ws);
  });
startHarnessFirst(test);

/** The error body a refused request answered, with `id` written as `<id>` so two answers compare. */
async function refusedBody(promise: Promise<unknown>, id: string): Promise<string> {
  const error = await promise.then(() => null, (e: unknown) => e);
  if (!(error instanceof GalaxyError)) throw new Error(`expected a GalaxyError, got ${String(error)}`);
  return JSON.stringify({ status: error.status, body: error.toBody() }).replaceAll(id, "<id>");
}

describe("another workspace's execution or agent, asked for by id", () => {
  test("execution.get answers the 404 of a random id; only the foreign id is reported, in the caller's workspace", async ({ h, as, reportsIn, settledReports }) => {
    const owner = uuidv7();
    const agent = await h.activeAgent(owner);
    const execution = await h.startExecution(owner, agent.id);
    const stranger = await as(uuidv7(), "viewer");
    const randomId = uuidv7();

    const foreign = await refusedBody(h.caller.request("execution.get", { id: execution.id }, { claim: stranger.claim, workspaceId: stranger.ws, ...from }), execution.id);
    const missing = await refusedBody(h.caller.request("execution.get", { id: randomId }, { claim: stranger.claim, workspaceId: stranger.ws, ...from }), randomId);
    expect(foreign).toBe(missing);
    expect(foreign).toContain('"code":"execution_not_found"');

    const [report] = await eventually(() => (reportsIn(stranger.ws).length > 0 ? reportsIn(stranger.ws) : null), 5_000, "the report");
    expect(await settledReports(stranger.ws)).toHaveLength(1);
    expect(report?.subject).toBe(`evt.${stranger.ws}.security.cross_workspace_attempt`);
    expect(report?.event.actor).toEqual({ type: "user", id: stranger.sub });
    expect(report?.event.data).toEqual({
      actor: { type: "user", id: stranger.sub },
      targetType: "execution",
      targetId: execution.id,
      operation: "executions.get",
      ipAddress: from.clientIp,
      userAgent: from.userAgent,
    });
    expect(report?.header(HEADER.claim)).toBe(stranger.claim);
    expect(report?.header(HEADER.clientIp)).toBe(from.clientIp);
    expect(report?.header(HEADER.userAgent)).toBe(from.userAgent);
    expect(reportsIn(owner)).toEqual([]);
  });

  test("execution.start of an agent the projection holds for another workspace: the same 404, reported, the registry not asked", async ({ h, as, reportsIn, settledReports }) => {
    const owner = uuidv7();
    const agent = await h.activeAgent(owner);
    const stranger = await as(uuidv7());
    const randomId = uuidv7();
    const gets = h.registry.gets;

    const foreign = await refusedBody(h.caller.request("execution.start", { agentId: agent.id, input: {} }, { claim: stranger.claim, workspaceId: stranger.ws, ...from }), agent.id);
    expect(h.registry.gets).toBe(gets);
    const missing = await refusedBody(h.caller.request("execution.start", { agentId: randomId, input: {} }, { claim: stranger.claim, workspaceId: stranger.ws, ...from }), randomId);
    expect(foreign).toBe(missing);
    expect(foreign).toContain('"code":"agent_not_found"');

    const reported = await eventually(() => (reportsIn(stranger.ws).length > 0 ? reportsIn(stranger.ws) : null), 5_000, "the report");
    expect(await settledReports(stranger.ws)).toHaveLength(1);
    expect(reported[0]?.event.data).toMatchObject({ targetType: "agent", targetId: agent.id, operation: "executions.start", ipAddress: from.clientIp, userAgent: from.userAgent });
    // Nothing was queued in either workspace.
    const queued = await inWorkspace(h.db, stranger.ws, (tx) => tx.selectFrom("executions").select("id").execute());
    expect(queued).toEqual([]);
  });

  test("an agent of another workspace the projection has not seen is left to the registry: no second report from the worker", async ({ h, as, settledReports }) => {
    const elsewhere = h.registry.put(uuidv7(), { status: "active" });
    const stranger = await as(uuidv7());
    expect(await inWorkspace(h.db, elsewhere.workspaceId, (tx) => findPinnableAgent(tx, elsewhere.id))).toBeNull();
    const gets = h.registry.gets;
    const body = await refusedBody(h.caller.request("execution.start", { agentId: elsewhere.id, input: {} }, { claim: stranger.claim, workspaceId: stranger.ws }), elsewhere.id);
    expect(body).toContain('"code":"agent_not_found"');
    expect(h.registry.gets).toBe(gets + 1);
    expect(await settledReports(stranger.ws)).toEqual([]);
  });

  test("the security-definer functions answer yes or no, and only for another workspace", async ({ h, as }) => {
    const owner = uuidv7();
    const agent = await h.activeAgent(owner);
    const execution = await h.startExecution(owner, agent.id);
    const ask = async (fn: "execution_exists_elsewhere" | "agent_exists_elsewhere", id: string, ws: string) =>
      (await sql<{ found: boolean }>`select ${sql.raw(`execution.${fn}`)}(${id}::uuid, ${ws}::uuid) as found`.execute(h.db)).rows[0]?.found;
    expect(await ask("execution_exists_elsewhere", execution.id, uuidv7())).toBe(true);
    expect(await ask("execution_exists_elsewhere", execution.id, owner)).toBe(false);
    expect(await ask("execution_exists_elsewhere", uuidv7(), owner)).toBe(false);
    expect(await ask("agent_exists_elsewhere", agent.id, uuidv7())).toBe(true);
    expect(await ask("agent_exists_elsewhere", agent.id, owner)).toBe(false);
    expect(await ask("agent_exists_elsewhere", uuidv7(), owner)).toBe(false);
  });

  test("execution.statuses answers the caller's workspace's executions alone: another workspace's id is absent, as an unknown one", async ({ h, as }) => {
    const owner = uuidv7();
    const agent = await h.activeAgent(owner);
    const first = await h.startExecution(owner, agent.id);
    const second = await h.startExecution(owner, agent.id);
    const member = await as(owner, "viewer");
    const stranger = await as(uuidv7(), "viewer");
    const ask = (who: { claim: string; ws: string }) => h.caller.request("execution.statuses", { ids: [first.id, second.id, uuidv7()] }, { claim: who.claim, workspaceId: who.ws, ...from });
    expect((await ask(member)).statuses.map((s) => s.id).sort()).toEqual([first.id, second.id].sort());
    expect((await ask(stranger)).statuses).toEqual([]);
  });
});
