import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { eventually, replayTest } from "../../test/support/replay-fixtures";

/** What audit cannot apply goes to dead letters; a redrive applies it once the code is fixed. */
const test = replayTest();

describe("dead letters", () => {
  test("a message audit cannot apply ends in dead letters; once the code is fixed, a redrive applies it once", async ({ broken, asOperator, publishAgent, makePoison, rowsOf, rowCount, audit, gatewayBus }) => {
    const ws = randomUUID();
    await publishAgent(ws, "first");
    await rowCount(ws, 1);
    const poison = await makePoison(ws);
    await publishAgent(ws, "after");
    // The consumer moves on: the poison is a dead letter, acked, and the next event is applied.
    await rowCount(ws, 2);
    const listed = await eventually(async () => {
      const page = await gatewayBus.request("audit.dead_letters.list", { consumer: "audit", limit: 100, offset: 0 }, asOperator());
      return page.items.find((l) => l.eventId === poison.id);
    }, "the dead letter");
    expect(listed).toMatchObject({ consumer: "audit", subject: `evt.${ws}.agent.created`, workspaceId: ws, eventType: "agent.created", deliveries: 1, redrive: null });
    expect(listed.error).toContain("hits the bug under test");
    expect(listed.headers["Gx-Claim"]).toBe("(redacted)");
    const shown = await gatewayBus.request("audit.dead_letters.get", { id: listed.id }, asOperator());
    expect(shown).toMatchObject({ id: listed.id, payload: { id: poison.id, type: "agent.created" } });

    broken.clear();
    const redriven = await gatewayBus.request("audit.dead_letters.redrive", { id: listed.id }, asOperator());
    expect(redriven).toEqual({ id: listed.id, outcome: "applied", error: null });
    const rows = await rowsOf(ws);
    expect(rows.map((r) => r.id)).toEqual([rows[0]?.id, rows[1]?.id, poison.id]);
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 3 });

    // Once applied, it is never applied again.
    await expect(gatewayBus.request("audit.dead_letters.redrive", { id: listed.id }, asOperator())).rejects.toMatchObject({ status: 409, code: "dead_letter_redriven" });
    const again = await gatewayBus.request("audit.dead_letters.redrive_many", { consumer: "audit", subject: `evt.${ws}.agent.created` }, asOperator());
    expect(again.redriven).toEqual([]);
    expect(await rowsOf(ws)).toHaveLength(3);
    const marked = await gatewayBus.request("audit.dead_letters.list", { consumer: "audit", redriven: "true", limit: 100, offset: 0 }, asOperator());
    expect(marked.items.find((l) => l.id === listed.id)?.redrive).toMatchObject({ outcome: "applied", by: "galaxy-cli" });
  });

  test("redrive by consumer and subject takes every dead letter not applied yet; an unknown id is a 404", async ({ broken, asOperator, makePoison, rowsOf, gatewayBus }) => {
    const ws = randomUUID();
    const one = await makePoison(ws);
    const two = await makePoison(ws);
    await eventually(async () => {
      const page = await gatewayBus.request("audit.dead_letters.list", { consumer: "audit", subject: `evt.${ws}.agent.created`, limit: 100, offset: 0 }, asOperator());
      return page.items.length === 2;
    }, "two dead letters");
    broken.clear();
    const result = await gatewayBus.request("audit.dead_letters.redrive_many", { consumer: "audit", subject: `evt.${ws}.agent.created` }, asOperator());
    expect(result.redriven.map((r) => r.outcome)).toEqual(["applied", "applied"]);
    expect((await rowsOf(ws)).map((r) => r.id)).toEqual([one.id, two.id]);
    await expect(gatewayBus.request("audit.dead_letters.get", { id: 987_654 }, asOperator())).rejects.toMatchObject({ status: 404, code: "dead_letter_not_found" });
  });

  test("a redrive of a consumer Galaxy does not have is a 400 unknown_consumer, not an empty success", async ({ asOperator, gatewayBus }) => {
    await expect(gatewayBus.request("audit.dead_letters.redrive_many", { consumer: "audti" }, asOperator())).rejects.toMatchObject({ status: 400, code: "unknown_consumer" });
  });
});
