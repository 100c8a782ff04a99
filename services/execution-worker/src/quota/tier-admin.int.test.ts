import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { EventEnvelope, GalaxyError, SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";
import { inWorkspace } from "@galaxy/db";
import { readJson } from "@galaxy/bus";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";
import { eventually } from "../../test/support/harness";
import { monthOf, TIERS } from "./tiers";

/**
 * A workspace's subscription tier, read and set by operators over the bus (docs/executions.md,
 * "Subscription tiers"): only an operator claim of the system workspace may, a change is recorded
 * in the workspace's audit log, and the worker enforces the new tier at the next start.
 */

const test = workerTest({ maxRetries: 0 })
  /** Every `workspace.tier_changed` on the bus, watched from before the first test. */
  .extend("changes", { scope: "file", auto: true }, async ({ h }) => {
    const changes: EventEnvelope[] = [];
    h.caller.watch("evt.*.workspace.tier_changed", (msg) => {
      const json = readJson(msg.headers, msg.data);
      if (json.ok) changes.push(EventEnvelope.parse(json.value));
    });
    await h.caller.flush();
    return changes;
  })
  /** The request options of an operator: a system admin's claim on the system workspace. */
  .extend("operator", { scope: "file" }, async ({ h }) => ({
    claim: await h.claims.sign({ ws: SYSTEM_WORKSPACE_ID, sub: "galaxy-cli", act: "operator", role: "owner" }),
    workspaceId: SYSTEM_WORKSPACE_ID,
  }));
startHarnessFirst(test);

async function refusal(promise: Promise<unknown>): Promise<GalaxyError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  if (!(error instanceof GalaxyError)) throw new Error(`expected a GalaxyError, got ${String(error)}`);
  return error;
}

describe("a workspace's tier", () => {
  test("is free until an operator sets it; a change is stored, answered with its limits, and recorded once in the workspace", async ({ h, operator, changes }) => {
    const ws = uuidv7();
    expect(await h.caller.request("execution.tiers.get", { workspaceId: ws }, operator)).toEqual({
      workspaceId: ws, tier: "free", limits: { concurrency: 2, maxQueued: 100, monthlyTokens: 200_000 }, updatedAt: null,
    });
    const set = await h.caller.request("execution.tiers.set", { workspaceId: ws, tier: "pro" }, operator);
    expect(set).toMatchObject({ workspaceId: ws, tier: "pro", limits: { concurrency: 10, maxQueued: 1_000, monthlyTokens: 10_000_000 } });
    expect(set.updatedAt).not.toBeNull();
    expect(await h.caller.request("execution.tiers.get", { workspaceId: ws }, operator)).toEqual(set);
    const row = await inWorkspace(h.db, ws, (tx) => tx.selectFrom("workspace_tiers").select("tier").where("workspace_id", "=", ws).executeTakeFirst());
    expect(row?.tier).toBe("pro");

    // The same tier again changes nothing and records nothing.
    expect((await h.caller.request("execution.tiers.set", { workspaceId: ws, tier: "pro" }, operator)).updatedAt).toBe(set.updatedAt);
    const recorded = await eventually(async () => {
      const mine = changes.filter((event) => event.workspaceId === ws);
      return mine.length > 0 ? mine : undefined;
    }, 5_000, "workspace.tier_changed");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(changes.filter((event) => event.workspaceId === ws)).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ type: "workspace.tier_changed", actor: { type: "operator", id: "galaxy-cli" }, data: { workspaceId: ws, tier: "pro", before: "free" } });
  });

  test("set twice at once for the first time, is recorded once per change, each with the tier the one before it set", async ({ h, operator, changes }) => {
    const same = uuidv7();
    await Promise.all([h.caller.request("execution.tiers.set", { workspaceId: same, tier: "pro" }, operator), h.caller.request("execution.tiers.set", { workspaceId: same, tier: "pro" }, operator)]);
    const different = uuidv7();
    await Promise.all([h.caller.request("execution.tiers.set", { workspaceId: different, tier: "pro" }, operator), h.caller.request("execution.tiers.set", { workspaceId: different, tier: "enterprise" }, operator)]);
    const recorded = await eventually(async () => {
      const ofSame = changes.filter((event) => event.workspaceId === same);
      const ofDifferent = changes.filter((event) => event.workspaceId === different);
      return ofSame.length === 1 && ofDifferent.length === 2 ? { ofSame, ofDifferent } : undefined;
    }, 5_000, "three workspace.tier_changed");
    expect(recorded.ofSame[0]?.data).toEqual({ workspaceId: same, tier: "pro", before: "free" });
    const chain = recorded.ofDifferent.map((event) => event.data as { tier: string; before: string });
    const first = chain.find((change) => change.before === "free");
    expect(first).toBeDefined();
    expect(chain.find((change) => change !== first)?.before).toBe(first?.tier);
  });

  test("is read and set by operators alone: a workspace's own owner, a service and another workspace's operator are refused 403", async ({ h, operator }) => {
    const ws = uuidv7();
    const callers = [
      { claim: await h.claims.sign({ ws, role: "owner" }), workspaceId: ws },
      { claim: await h.claims.sign({ ws, act: "service", sub: "agent-registry" }), workspaceId: ws },
      { claim: await h.claims.sign({ ws, act: "operator", sub: "galaxy-cli" }), workspaceId: ws },
    ];
    for (const caller of callers) {
      expect(await refusal(h.caller.request("execution.tiers.set", { workspaceId: ws, tier: "enterprise" }, caller))).toMatchObject({ status: 403, code: "system_admin_required" });
      expect((await refusal(h.caller.request("execution.tiers.get", { workspaceId: ws }, caller))).status).toBe(403);
    }
    expect((await h.caller.request("execution.tiers.get", { workspaceId: ws }, operator)).tier).toBe("free");
    // The system workspace runs no executions: it has no tier.
    expect((await refusal(h.caller.request("execution.tiers.set", { workspaceId: SYSTEM_WORKSPACE_ID, tier: "pro" }, operator))).status).toBe(400);
    expect((await refusal(h.caller.request("execution.tiers.set", { workspaceId: ws, tier: "platinum" as "pro" }, operator))).code).toBe("validation_failed");
  });

  test("is what intake enforces from the next start: a free workspace that spent its month's tokens may start again once it is pro", async ({ h, operator }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    await inWorkspace(h.db, ws, (tx) =>
      tx.insertInto("workspace_usage").values({ workspace_id: ws, month: monthOf(new Date()), tokens: TIERS.free.monthlyTokens, executions: 0 }).execute());
    expect((await refusal(h.startExecution(ws, agent.id))).toBody()).toMatchObject({ code: "quota_exceeded", details: { quota: "monthly_tokens", tier: "free" } });
    await h.caller.request("execution.tiers.set", { workspaceId: ws, tier: "pro" }, operator);
    expect((await h.startExecution(ws, agent.id)).workspaceId).toBe(ws);
  });
});
