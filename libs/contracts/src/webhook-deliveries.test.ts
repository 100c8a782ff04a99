import { describe, expect, test } from "vitest";
import { parseEvent } from "./events";
import { WebhookReceived } from "./triggers";
import { deliveryEventId, deliveryExecutionId } from "./webhook-deliveries";

const triggerId = "0193a0b2-1111-7000-8000-00000000000a";
const webhookId = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";

describe("a delivery's ids", () => {
  // Deliveries stored by an earlier release are recognised by these ids: the rules never change.
  test("are the same for every copy of a delivery, in every release", () => {
    expect(deliveryExecutionId(triggerId, webhookId)).toBe("6b53daae-60f5-5f0a-b2a1-3bc617848d08");
    expect(deliveryEventId(triggerId, webhookId)).toBe("d6678381-1eba-5a54-865b-8c21b7949dbf");
    expect(deliveryExecutionId(triggerId, `${webhookId}x`)).not.toBe(deliveryExecutionId(triggerId, webhookId));
  });

  test("a webhook.received whose executionId breaks the rule is refused at every consumer's boundary", () => {
    const data = {
      triggerId,
      agentId: "0193a0b2-1111-7000-8000-00000000000b",
      webhookId,
      executionId: deliveryExecutionId(triggerId, webhookId),
      body: { message: "hi" },
      bodySha256: "0".repeat(64),
      bodySize: 16,
      headers: {},
      receivedAt: "2026-12-07T03:00:00.000Z",
    };
    expect(WebhookReceived.safeParse(data).success).toBe(true);
    const other = { ...data, executionId: "0193a0b2-1111-7000-8000-00000000000c" };
    expect(WebhookReceived.safeParse(other).error?.issues.map((issue) => issue.path.join("."))).toEqual(["executionId"]);
    const envelope = (payload: typeof data) => ({
      id: deliveryEventId(triggerId, webhookId), type: "webhook.received", occurredAt: data.receivedAt, workspaceId: "0193a0b2-1111-7000-8000-00000000000d",
      actor: { type: "service", id: "gateway" }, data: payload,
    });
    expect(parseEvent(envelope(data)).ok).toBe(true);
    expect(parseEvent(envelope(other)).ok).toBe(false);
    // A triggerId that is no UUID is refused as such, not thrown while deriving the id.
    for (const badTrigger of ["not-a-uuid", ""]) {
      expect(WebhookReceived.safeParse({ ...data, triggerId: badTrigger }).error?.issues.map((issue) => issue.path.join("."))).toEqual(["triggerId"]);
      expect(parseEvent(envelope({ ...data, triggerId: badTrigger })).ok).toBe(false);
    }
  });
});
