import { headers, Match, MsgHdrsImpl, type MsgHdrs } from "@nats-io/transport-node";
import { expect, test } from "vitest";

/**
 * Galaxy's patch of nats.js (patches/, docs/decisions/0029) reads and writes message headers
 * with the map's own lookup when a key is matched exactly (the default): every message the
 * bus sends or receives has some ten headers, and the unpatched code listed all keys for each
 * read. What a header holds, and what is refused, stays as it was.
 */
const CLAIM = `eyJhbGciOiJFZERTQSJ9.${"x".repeat(400)}.sig`;

/** Headers built with `build`, written as on the wire and read back, seen as the bus sees them. */
function decoded(build: (h: MsgHdrs) => void): MsgHdrs {
  const h = new MsgHdrsImpl();
  build(h);
  return MsgHdrsImpl.decode(h.encode());
}

test("headers written with set and append read back the same after the wire", () => {
  const h = decoded((out) => {
    out.set("Gx-Claim", CLAIM);
    out.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    out.append("Gx-Tag", "first");
    out.append("Gx-Tag", "second");
    out.set("Gx-Empty", "");
    out.set("Gx-Spaced", "  padded value  ");
  });

  expect(h.get("Gx-Claim")).toBe(CLAIM);
  expect(h.get("traceparent")).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  expect(h.values("Gx-Tag")).toEqual(["first", "second"]);
  expect(h.get("Gx-Tag")).toBe("first");
  expect(h.last("Gx-Tag")).toBe("second");
  expect(h.get("Gx-Empty")).toBe("");
  expect(h.has("Gx-Empty")).toBe(true);
  expect(h.get("Gx-Spaced")).toBe("padded value");
  expect(h.keys()).toEqual(["Gx-Claim", "traceparent", "Gx-Tag", "Gx-Empty", "Gx-Spaced"]);
});

test("an exact key is case-sensitive and an absent one reads as empty; other matches still fold case", () => {
  const h = decoded((out) => out.set("Gx-Workspace-Id", "ws-1"));

  expect(h.get("gx-workspace-id")).toBe("");
  expect(h.has("gx-workspace-id")).toBe(false);
  expect(h.get("Gx-Missing")).toBe("");
  expect(h.get("gx-workspace-id", Match.IgnoreCase)).toBe("ws-1");
  expect(h.get("gx-workspace-id", Match.CanonicalMIME)).toBe("ws-1");
});

test("set replaces, delete removes", () => {
  const h = headers();
  h.append("Gx-Attempt", "1");
  h.append("Gx-Attempt", "2");
  h.set("Gx-Attempt", "3");
  expect(h.values("Gx-Attempt")).toEqual(["3"]);
  h.delete("Gx-Attempt");
  expect(h.has("Gx-Attempt")).toBe(false);
  expect(h.keys()).toEqual([]);
});

test("a key with a space, a colon or a character outside printable ASCII is refused, and so is a value with a line break", () => {
  const h = headers();
  for (const key of ["Gx Claim", "Gx:Claim", "Gx-Clé"]) {
    expect(() => h.set(key, "value"), key).toThrow(/is not a valid character in a header name/);
    expect(() => h.append(key, "value"), key).toThrow(/is not a valid character in a header name/);
  }
  expect(() => h.set("Gx-Claim", "one\r\ntwo")).toThrow(/values cannot contain/);
  expect(() => h.set("Gx-Claim", "one\ntwo")).toThrow(/values cannot contain/);
  expect(h.keys()).toEqual([]);
});

test("a status line's code and description are read, lines without a colon are skipped, and a received value is trimmed before it is checked", () => {
  const raw = new TextEncoder().encode("NATS/1.0 503 No Responders\r\nGx-One: 1\r\nnot a header\r\nGx-Two:  2 \r\r\nGx-Three: \n3\r\n\r\n");
  const h = MsgHdrsImpl.decode(raw);

  expect(h.code).toBe(503);
  expect(h.description).toBe("No Responders");
  expect(h.get("Gx-One")).toBe("1");
  expect(h.get("Gx-Two")).toBe("2");
  expect(h.get("Gx-Three")).toBe("3");
  expect(h.keys()).toEqual(["Gx-One", "Gx-Two", "Gx-Three"]);
});
