import fc from "fast-check";
import { signWebhook } from "@galaxy/webhooks";
import { contentTypes, garbageBody, hostileSegment, inject, storableHostileLeaf, toJsonText, unstorableLeaf } from "./hostile";

/** What a generated delivery must be answered with, beyond "no 5xx, documented shape". */
export type DeliveryExpectation = "accepted" | "invalid_value" | "unauthorized" | "unsupported_media_type" | "any_refusal";

export interface FuzzDelivery {
  path: string;
  headers: Record<string, string>;
  body: string;
  expect: DeliveryExpectation;
}

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

/**
 * Signed deliveries to one webhook trigger (`/hooks/{triggerId}`): valid JSON (accepted), JSON
 * Postgres cannot store (400 `invalid_value`, never a 202), hostile but storable JSON
 * (accepted), garbage, bad signatures, other content types and other trigger ids.
 */
export function deliveriesTo(triggerId: string, secret: string): fc.Arbitrary<FuzzDelivery> {
  const value = fc.jsonValue({ maxDepth: 3 });
  // A key that cannot be stored makes any body unstorable: only the unstorable bodies get one.
  const spot = fc.tuple(fc.nat({ max: 10 }), fc.constantFrom("data", "__proto__", "constructor"));
  const unstorableSpot = fc.tuple(fc.nat({ max: 10 }), fc.constantFrom("data", "\u0000", "\ud800", "__proto__"));
  const body = fc.oneof(
    { arbitrary: value.map((v) => ({ text: toJsonText(v), expect: "accepted" as const })), weight: 2 },
    { arbitrary: fc.tuple(value, unstorableLeaf, unstorableSpot).map(([v, leaf, [i, key]]) => ({ text: toJsonText(inject(v, leaf, i, key)), expect: "invalid_value" as const })), weight: 5 },
    { arbitrary: fc.tuple(value, storableHostileLeaf, spot).map(([v, leaf, [i, key]]) => ({ text: toJsonText(inject(v, leaf, i, key)), expect: "accepted" as const })), weight: 2 },
    { arbitrary: garbageBody.map((text) => ({ text, expect: "any_refusal" as const })), weight: 1 },
  );
  const signature = fc.oneof(
    { arbitrary: fc.constant("valid" as const), weight: 10 },
    { arbitrary: fc.constantFrom("wrong_secret" as const, "missing" as const, "stale" as const, "tampered" as const), weight: 1 },
  );
  const target = fc.oneof({ arbitrary: fc.constant(triggerId), weight: 20 }, { arbitrary: fc.uuid(), weight: 1 }, { arbitrary: hostileSegment, weight: 1 });
  const contentType = fc.oneof({ arbitrary: fc.constant<string | undefined>("application/json"), weight: 6 }, { arbitrary: contentTypes, weight: 1 });
  return fc.record({ body, signature, target, contentType, n: fc.nat() }).map(({ body: b, signature: s, target: t, contentType: type, n }) => {
    const id = `msg_fuzz_${n}_${b.text.length}`;
    const timestamp = Math.floor(Date.now() / 1000) - (s === "stale" ? 3600 : 0);
    const signed = signWebhook(s === "wrong_secret" ? `whsec_${Buffer.from("not the secret").toString("base64")}` : secret, id, timestamp, s === "tampered" ? `${b.text} ` : b.text);
    const headers: Record<string, string> = { "webhook-id": id, "webhook-timestamp": String(timestamp) };
    if (s !== "missing") headers["webhook-signature"] = signed;
    if (type !== undefined) headers["content-type"] = type;
    const onTarget = t === triggerId;
    let expect: DeliveryExpectation = b.expect;
    if (!onTarget) expect = "any_refusal";
    else if (!JSON_TYPE.test(type ?? "")) expect = "unsupported_media_type";
    else if (s !== "valid") expect = "unauthorized";
    return { path: `/hooks/${t}`, headers, body: b.text, expect };
  });
}
