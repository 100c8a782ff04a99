import { describe, expect, test } from "vitest";
import { REPLAY_APPLY_MAX_MESSAGES, type RawBusMessage } from "@galaxy/contracts";
import { requestsOf } from "./targets";

function raw(seq: number, dataBytes = 100): RawBusMessage {
  return { subject: "evt.ws.agent.created", seq, headers: { "Gx-Claim": ["c"] }, data: "A".repeat(dataBytes) };
}

describe("requestsOf: a replay batch cut into the worker's requests", () => {
  test("at most REPLAY_APPLY_MAX_MESSAGES a request, every message once, in order", () => {
    const raws = Array.from({ length: 2_000 }, (_, i) => raw(i + 1));
    const requests = requestsOf(raws);
    expect(requests.map((r) => r.length)).toEqual([500, 500, 500, 500]);
    expect(requests.flat().map((r) => r.seq)).toEqual(raws.map((r) => r.seq));
    expect(Math.max(...requests.map((r) => r.length))).toBe(REPLAY_APPLY_MAX_MESSAGES);
  });

  test("large payloads make smaller requests; a message larger than the bound goes alone", () => {
    const raws = [raw(1, 400), raw(2, 400), raw(3, 400), raw(4, 5_000), raw(5, 10)];
    const requests = requestsOf(raws, 1_000);
    expect(requests.map((r) => r.map((m) => m.seq))).toEqual([[1, 2], [3], [4], [5]]);
  });

  test("nothing to send, no request", () => {
    expect(requestsOf([])).toEqual([]);
  });
});
