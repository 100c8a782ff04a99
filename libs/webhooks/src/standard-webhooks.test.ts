import { describe, expect, test } from "vitest";
import { signWebhook, verifyWebhook, WEBHOOK_TOLERANCE_S } from "./standard-webhooks";

// The Standard Webhooks specification's test vector.
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP = 1614265330;
const PAYLOAD = '{"test": 2432232314}';
const EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

const headers = (signature: string, timestamp = String(TIMESTAMP), id = ID) => ({ id, timestamp, signature });

describe("Standard Webhooks", () => {
  test("signs the specification's test vector", () => {
    expect(signWebhook(SECRET, ID, TIMESTAMP, PAYLOAD)).toBe(EXPECTED);
  });

  test("given the test vector, when verified at its own time, then it passes", () => {
    expect(verifyWebhook([SECRET], headers(EXPECTED), Buffer.from(PAYLOAD), TIMESTAMP)).toEqual({ ok: true, id: ID, timestampS: TIMESTAMP });
  });

  test("one valid signature among several passes (space-separated, other versions ignored)", () => {
    const signature = `v1,Zm9vYmFy v1a,abc ${EXPECTED} v1,${Buffer.alloc(32).toString("base64")}`;
    expect(verifyWebhook([SECRET], headers(signature), Buffer.from(PAYLOAD), TIMESTAMP).ok).toBe(true);
  });

  test("any of several secrets (a rotation) may have signed it", () => {
    expect(verifyWebhook(["whsec_b3RoZXIgc2VjcmV0", SECRET], headers(EXPECTED), Buffer.from(PAYLOAD), TIMESTAMP).ok).toBe(true);
  });

  test("a changed body, id, timestamp or secret is a bad signature", () => {
    expect(verifyWebhook([SECRET], headers(EXPECTED), Buffer.from('{"test": 2432232315}'), TIMESTAMP)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyWebhook([SECRET], headers(EXPECTED, String(TIMESTAMP), "msg_other"), Buffer.from(PAYLOAD), TIMESTAMP)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyWebhook([SECRET], headers(EXPECTED, String(TIMESTAMP + 1)), Buffer.from(PAYLOAD), TIMESTAMP)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyWebhook(["whsec_b3RoZXIgc2VjcmV0"], headers(EXPECTED), Buffer.from(PAYLOAD), TIMESTAMP)).toEqual({ ok: false, reason: "bad_signature" });
  });

  test("a timestamp more than 5 minutes off, either way, is refused before the signature is checked", () => {
    expect(verifyWebhook([SECRET], headers(EXPECTED), Buffer.from(PAYLOAD), TIMESTAMP + WEBHOOK_TOLERANCE_S)).toMatchObject({ ok: true });
    expect(verifyWebhook([SECRET], headers(EXPECTED), Buffer.from(PAYLOAD), TIMESTAMP + WEBHOOK_TOLERANCE_S + 1)).toEqual({ ok: false, reason: "timestamp_out_of_range" });
    expect(verifyWebhook([SECRET], headers(EXPECTED), Buffer.from(PAYLOAD), TIMESTAMP - WEBHOOK_TOLERANCE_S - 1)).toEqual({ ok: false, reason: "timestamp_out_of_range" });
  });

  test("missing headers and a malformed timestamp are refused", () => {
    expect(verifyWebhook([SECRET], { id: ID, timestamp: String(TIMESTAMP), signature: undefined }, Buffer.from(PAYLOAD), TIMESTAMP)).toEqual({ ok: false, reason: "missing_headers" });
    expect(verifyWebhook([SECRET], { id: undefined, timestamp: String(TIMESTAMP), signature: EXPECTED }, Buffer.from(PAYLOAD), TIMESTAMP)).toEqual({ ok: false, reason: "missing_headers" });
    expect(verifyWebhook([SECRET], headers(EXPECTED, "16142653.30"), Buffer.from(PAYLOAD), TIMESTAMP)).toEqual({ ok: false, reason: "bad_timestamp" });
  });
});
