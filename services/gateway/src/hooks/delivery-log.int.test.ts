import { randomUUID } from "node:crypto";
import { expect, vi } from "vitest";
import { TRIGGER_DELIVERIES_KEPT } from "@galaxy/contracts";
import { gatewayTest as test } from "../../test/fixtures";
import { testLogger } from "@galaxy/testkit";
import { DeliveryLog, FLUSH_DELAY_MS } from "./delivery-log";

/** The trigger deliveries' log on the gateway's `redis` (test/fixtures.ts), written in batches. */

const accepted = (n: number) => ({ webhookId: `msg_${n}`, httpStatus: 202, code: null, executionId: randomUUID() });

test("records wait to be written together, in one call, each numbered in its own trigger's list", async ({ redis }) => {
  const log = new DeliveryLog(redis, testLogger("gateway"));
  const workspace = randomUUID();
  const [first, second] = [randomUUID(), randomUUID()];
  const calls = vi.spyOn(redis, "galaxyRecordDeliveries");
  try {
    log.record(workspace, first, accepted(1));
    log.record(workspace, second, accepted(2));
    log.record(workspace, first, { webhookId: "msg_3", httpStatus: 401, code: "invalid_webhook_signature", executionId: null });
    // Nothing is written before the delay.
    expect(await log.before(workspace, first, undefined, 10)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, FLUSH_DELAY_MS * 3));
    expect(calls).toHaveBeenCalledTimes(1);
  } finally {
    calls.mockRestore();
  }
  expect((await log.before(workspace, first, undefined, 10)).map((d) => [d.s, d.w, d.h, d.c])).toEqual([
    [2, "msg_3", 401, "invalid_webhook_signature"],
    [1, "msg_1", 202, null],
  ]);
  expect((await log.before(workspace, second, undefined, 10)).map((d) => [d.s, d.w])).toEqual([[1, "msg_2"]]);
});

test("a flush writes what waits at once, and a list keeps only the newest", async ({ redis }) => {
  const log = new DeliveryLog(redis, testLogger("gateway"));
  const [workspace, trigger] = [randomUUID(), randomUUID()];
  for (let n = 1; n <= TRIGGER_DELIVERIES_KEPT + 5; n++) log.record(workspace, trigger, accepted(n));
  await log.flush();
  const page = await log.page(workspace, trigger, 0, 3);
  expect(page.total).toBe(TRIGGER_DELIVERIES_KEPT);
  expect(page.rows.map((d) => d.w)).toEqual([`msg_${TRIGGER_DELIVERIES_KEPT + 5}`, `msg_${TRIGGER_DELIVERIES_KEPT + 4}`, `msg_${TRIGGER_DELIVERIES_KEPT + 3}`]);
});

test("a connection whose Redis no longer knows the script (flushed, as a restart empties it) sends its text again", async ({ redis }) => {
  const log = new DeliveryLog(redis, testLogger("gateway"));
  const [workspace, trigger] = [randomUUID(), randomUUID()];
  log.record(workspace, trigger, accepted(1));
  await log.flush();
  await redis.script("FLUSH");
  log.record(workspace, trigger, accepted(2));
  await log.flush();
  expect((await log.before(workspace, trigger, undefined, 10)).map((d) => [d.s, d.w])).toEqual([
    [2, "msg_2"],
    [1, "msg_1"],
  ]);
});
