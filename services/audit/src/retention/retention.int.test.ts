import { randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { describe, expect } from "vitest";
import { AuditEntry, GalaxyError, SYSTEM_WORKSPACE_ID, type Role } from "@galaxy/contracts";
import { connectTestBus } from "@galaxy/testkit";
import { auditTest } from "../../test/support/audit-fixtures";
import { GENESIS_HEAD, verifyChain, type HashedAuditEntry } from "../chain/chain";

const DAY = 24 * 3600 * 1000;

/**
 * The audit service of the file (audit-fixtures.ts: `admin`, `gatewayBus`, `exportDir`, where
 * retention writes) and what its tests do with it, set up once per file:
 * - `identityPublisher`: identity's bus, which publishes `member.added`;
 * - `publishAt`: publishes `member.added` events into a workspace, one per time given, in order;
 * - `rowsOf`: a workspace's entries in chain order, read past row-level security;
 * - `operatorClaim`, `applyRetention`, `verifyAs`: requests as the gateway would make them.
 */
const test = auditTest()
  .extend("identityPublisher", { scope: "file" }, async ({ env, audit }, { onCleanup }) => {
    // Events are published once the service consumes them.
    void audit;
    const bus = await connectTestBus(env, "identity");
    onCleanup(() => bus.close());
    return bus;
  })
  .extend("publishAt", { scope: "file" }, async ({ claims, identityPublisher }) =>
    async (workspaceId: string, times: readonly string[]): Promise<string[]> => {
      const ids: string[] = [];
      for (const occurredAt of times) {
        const id = randomUUID();
        const actor = { type: "user" as const, id: randomUUID() };
        await identityPublisher.publishEvent({
          id,
          workspaceId,
          type: "member.added",
          schemaVersion: 1,
          payload: { id, type: "member.added", occurredAt, workspaceId, actor, data: { userId: randomUUID(), email: "grace@example.com", role: "member" } },
          context: {
            claim: await claims.sign({ ws: workspaceId, sub: actor.id }),
            traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`,
            correlationId: randomUUID(),
            causationId: randomUUID(),
          },
        });
        ids.push(id);
      }
      return ids;
    })
  .extend("rowsOf", { scope: "file" }, async ({ admin }) =>
    async (workspaceId: string) => admin.selectFrom("audit_logs").selectAll().where("workspace_id", "=", workspaceId).orderBy("seq").execute())
  .extend("operatorClaim", { scope: "file" }, async ({ claims }) =>
    () => claims.sign({ ws: SYSTEM_WORKSPACE_ID, sub: "galaxy-cli", act: "operator", role: "owner" }))
  .extend("applyRetention", { scope: "file" }, async ({ gatewayBus, operatorClaim }) =>
    async (workspaceId: string, tier: "free" | "pro" | "enterprise", claim?: string) =>
      gatewayBus.request("audit.retention.apply", { workspaceId, tier }, { claim: claim ?? (await operatorClaim()), workspaceId: SYSTEM_WORKSPACE_ID }))
  .extend("verifyAs", { scope: "file" }, async ({ claims, gatewayBus }) =>
    async (workspaceId: string, role: Role = "admin") =>
      gatewayBus.request("audit.logs.verify", {}, { claim: await claims.sign({ ws: workspaceId, role }), workspaceId }));

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function refusal(work: Promise<unknown>): Promise<GalaxyError> {
  const outcome = await work.then(() => new Error("expected a refusal"), (error: unknown) => error);
  if (outcome instanceof GalaxyError) return outcome;
  throw outcome;
}

/** Old enough for every tier with a limit, then entries of the last week. */
const OLD = ["2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z", "2025-01-03T00:00:00.000Z", "2025-01-04T00:00:00.000Z"];
const recent = () => [new Date(Date.now() - 7 * DAY).toISOString(), new Date(Date.now() - DAY).toISOString()];

describe("audit.retention.apply", () => {
  test("exports the expired prefix, removes it, keeps a checkpoint; the chain and the export both still verify", async ({ publishAt, rowsOf, applyRetention, verifyAs, exportDir, admin }) => {
    const ws = randomUUID();
    const ids = await publishAt(ws, [...OLD, ...recent()]);
    const before = await eventually(() => rowsOf(ws), (rows) => rows.length === 6, "six entries");

    const result = await applyRetention(ws, "free");
    expect(result).toMatchObject({ workspaceId: ws, tier: "free", removed: 4, checkpoint: { seq: 4, hash: before[3]?.hash } });
    expect(Date.parse(result.cutoff ?? "")).toBeGreaterThan(Date.now() - 31 * DAY);
    expect(result.exportFile).toMatch(new RegExp(`^${join(exportDir, ws, `${ws}-1-4-`)}[0-9a-f-]{36}\\.ndjson$`));
    expect(await readdir(join(exportDir, ws))).toEqual([basename(result.exportFile ?? "")]);

    const rows = await rowsOf(ws);
    expect(rows.map((r) => r.id)).toEqual(ids.slice(4));
    expect(await verifyAs(ws)).toEqual({ workspaceId: ws, valid: true, entries: 2, head: { seq: 6, hash: before[5]?.hash }, checkpoint: { seq: 4, hash: before[3]?.hash } });

    // The export is the removed prefix as the API shows it, and verifies on its own from genesis.
    const lines = (await readFile(result.exportFile ?? "", "utf8")).trim().split("\n").map((line) => AuditEntry.parse(JSON.parse(line)));
    expect(lines.map((e) => e.id)).toEqual(ids.slice(0, 4));
    const exported = lines.map((e): HashedAuditEntry => ({ ...e, resourceId: e.resourceId ?? "", changes: e.changes as HashedAuditEntry["changes"] }));
    expect(verifyChain(exported, GENESIS_HEAD)).toEqual({ valid: true, entries: 4, head: { seq: 4, hash: before[3]?.hash } });

    // The run is an operator action, and so an entry of the system workspace's chain.
    const recorded = await eventually(
      () => admin.selectFrom("audit_logs").selectAll().where("workspace_id", "=", SYSTEM_WORKSPACE_ID).where("action", "=", "audit.retention_applied").where("resource_id", "=", ws).execute(),
      (found) => found.length === 1,
      "the audit.retention_applied entry",
    );
    expect(recorded[0]).toMatchObject({ actor_type: "service", actor_id: "galaxy-cli", resource_type: "audit_log" });
    expect(recorded[0]?.changes).toEqual({ before: { checkpointSeq: 0 }, after: { checkpointSeq: 4, checkpointHash: before[3]?.hash, exportFile: result.exportFile } });

    // Nothing more has expired: a second run removes nothing and writes nothing.
    expect(await applyRetention(ws, "free")).toMatchObject({ removed: 0, exportFile: null, checkpoint: { seq: 4 } });
    // New events continue the chain after what was kept.
    await publishAt(ws, [new Date().toISOString()]);
    const after = await eventually(() => rowsOf(ws), (found) => found.length === 3, "the next entry");
    expect(after[2]).toMatchObject({ seq: 7, prev_hash: before[5]?.hash });
    expect(await verifyAs(ws)).toMatchObject({ valid: true, entries: 3, checkpoint: { seq: 4 } });
  });

  test("a second run starts from the checkpoint, and pro keeps a year", async ({ publishAt, rowsOf, applyRetention, verifyAs, exportDir }) => {
    const ws = randomUUID();
    const twoYears = new Date(Date.now() - 730 * DAY).toISOString();
    const halfYear = new Date(Date.now() - 180 * DAY).toISOString();
    await publishAt(ws, [twoYears, twoYears, halfYear, halfYear]);
    await eventually(() => rowsOf(ws), (rows) => rows.length === 4, "four entries");
    expect(await applyRetention(ws, "pro")).toMatchObject({ removed: 2, checkpoint: { seq: 2 } });
    const second = await applyRetention(ws, "free");
    expect(second).toMatchObject({ removed: 2, checkpoint: { seq: 4 } });
    expect(second.exportFile).toMatch(new RegExp(`^${join(exportDir, ws, `${ws}-3-4-`)}[0-9a-f-]{36}\\.ndjson$`));
    expect(await verifyAs(ws)).toMatchObject({ valid: true, entries: 0, head: { seq: 4 }, checkpoint: { seq: 4 } });
  });

  test("two runs at once: the prefix is removed once, and the export of the run that removed it is kept", async ({ publishAt, rowsOf, applyRetention, exportDir }) => {
    const ws = randomUUID();
    await publishAt(ws, [...OLD, ...recent()]);
    await eventually(() => rowsOf(ws), (rows) => rows.length === 6, "six entries");
    const runs = await Promise.all(Array.from({ length: 4 }, () => applyRetention(ws, "free")));
    const winners = runs.filter((run) => run.removed > 0);
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ removed: 4, checkpoint: { seq: 4 } });
    // The runs that removed nothing deleted only their own files: the winner's export is there, alone.
    expect(await readdir(join(exportDir, ws))).toEqual([basename(winners[0]?.exportFile ?? "")]);
    expect((await readFile(winners[0]?.exportFile ?? "", "utf8")).trim().split("\n")).toHaveLength(4);
  });

  test("enterprise keeps everything", async ({ publishAt, rowsOf, applyRetention }) => {
    const ws = randomUUID();
    await publishAt(ws, OLD);
    await eventually(() => rowsOf(ws), (rows) => rows.length === 4, "four entries");
    expect(await applyRetention(ws, "enterprise")).toEqual({ workspaceId: ws, tier: "enterprise", cutoff: null, removed: 0, checkpoint: null, exportFile: null });
    expect(await rowsOf(ws)).toHaveLength(4);
  });

  test("a broken prefix is neither exported nor removed", async ({ publishAt, rowsOf, applyRetention, exportDir, admin }) => {
    const ws = randomUUID();
    await publishAt(ws, OLD);
    await eventually(() => rowsOf(ws), (rows) => rows.length === 4, "four entries");
    await admin.updateTable("audit_logs").set({ actor_id: "someone-else" }).where("workspace_id", "=", ws).where("seq", "=", 2).execute();
    const error = await refusal(applyRetention(ws, "free"));
    expect(error).toMatchObject({ status: 409, code: "audit_chain_broken" });
    expect(error.message).toMatch(/seq 2/);
    expect(await rowsOf(ws)).toHaveLength(4);
    expect(await readdir(join(exportDir, ws))).toEqual([]);
  });

  test("only an operator claim of the system workspace may apply it", async ({ publishAt, rowsOf, gatewayBus, claims }) => {
    const ws = randomUUID();
    await publishAt(ws, OLD);
    await eventually(() => rowsOf(ws), (rows) => rows.length === 4, "four entries");
    const owner = await claims.sign({ ws, role: "owner" });
    const error = await refusal(gatewayBus.request("audit.retention.apply", { workspaceId: ws, tier: "free" }, { claim: owner, workspaceId: ws }));
    expect(error).toMatchObject({ status: 403, code: "system_admin_required" });
    expect(await rowsOf(ws)).toHaveLength(4);
  });
});

describe("audit.logs.verify", () => {
  test("admins and owners verify their own workspace; members, viewers and other workspaces may not", async ({ publishAt, rowsOf, verifyAs, gatewayBus, claims }) => {
    const ws = randomUUID();
    await publishAt(ws, recent());
    await eventually(() => rowsOf(ws), (rows) => rows.length === 2, "two entries");
    expect(await verifyAs(ws, "owner")).toMatchObject({ valid: true, entries: 2, checkpoint: null });
    for (const role of ["member", "viewer"] as const) expect(await refusal(verifyAs(ws, role))).toMatchObject({ status: 403 });
    const outsider = randomUUID();
    const claim = await claims.sign({ ws: outsider, role: "owner" });
    expect(await refusal(gatewayBus.request("audit.logs.verify", { workspaceId: ws }, { claim, workspaceId: outsider }))).toMatchObject({ status: 403 });
  });

  test("an operator claim verifies any workspace, and names the first bad seq", async ({ publishAt, rowsOf, admin, gatewayBus, operatorClaim }) => {
    const ws = randomUUID();
    await publishAt(ws, recent());
    const rows = await eventually(() => rowsOf(ws), (found) => found.length === 2, "two entries");
    const asOperator = async () => gatewayBus.request("audit.logs.verify", { workspaceId: ws }, { claim: await operatorClaim(), workspaceId: SYSTEM_WORKSPACE_ID });
    expect(await asOperator()).toEqual({ workspaceId: ws, valid: true, entries: 2, head: { seq: 2, hash: rows[1]?.hash }, checkpoint: null });
    await admin.updateTable("audit_logs").set({ occurred_at: "2020-01-01T00:00:00.000Z" }).where("workspace_id", "=", ws).where("seq", "=", 2).execute();
    expect(await asOperator()).toEqual({ workspaceId: ws, valid: false, entries: 1, head: null, checkpoint: null, firstBadSeq: 2, reason: "hash_mismatch" });
  });
});

describe("audit.logs.export_page", () => {
  test("pages oldest first after afterSeq, bounded by the head when the export began, with the list's filters", async ({ publishAt, rowsOf, gatewayBus, claims }) => {
    const ws = randomUUID();
    const ids = await publishAt(ws, recent());
    await eventually(() => rowsOf(ws), (rows) => rows.length === 2, "two entries");
    const options = { claim: await claims.sign({ ws, role: "admin" }), workspaceId: ws };
    const first = await gatewayBus.request("audit.logs.export_page", { limit: 1 }, options);
    expect(first).toMatchObject({ throughSeq: 2, items: [{ id: ids[0], seq: 1 }] });
    await publishAt(ws, [new Date().toISOString()]);
    await eventually(() => rowsOf(ws), (rows) => rows.length === 3, "three entries");
    const second = await gatewayBus.request("audit.logs.export_page", { limit: 10, afterSeq: 1, throughSeq: first.throughSeq }, options);
    expect(second.items.map((e) => e.id)).toEqual([ids[1]]);
    const filtered = await gatewayBus.request("audit.logs.export_page", { action: "agent.created" }, options);
    expect(filtered.items).toEqual([]);
    const member = { claim: await claims.sign({ ws, role: "member" }), workspaceId: ws };
    expect(await refusal(gatewayBus.request("audit.logs.export_page", {}, member))).toMatchObject({ status: 403 });
  });
});
