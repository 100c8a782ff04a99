import { describe, expect, test } from "vitest";
import { childTraceparent, newTraceparent, traceIdOf } from "./tracing";

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("traceIdOf", () => {
  test("reads the trace id of a W3C traceparent", () => {
    expect(traceIdOf(parent)).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  test.each([
    ["garbage", "not-a-traceparent"],
    ["upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"],
    ["a short trace id", "00-4bf92f3577b34da6-00f067aa0ba902b7-01"],
    ["extra parts", `${parent}-extra`],
    ["an all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
    ["an empty string", ""],
  ])("refuses %s", (_name, value) => {
    expect(traceIdOf(value)).toBeNull();
  });
});

describe("newTraceparent", () => {
  test("is a valid traceparent with fresh ids each time", () => {
    const a = newTraceparent();
    const b = newTraceparent();
    expect(a).toMatch(TRACEPARENT);
    expect(traceIdOf(a)).not.toBe(traceIdOf(b));
  });

  test("keeps a trace id it is given", () => {
    expect(traceIdOf(newTraceparent("4bf92f3577b34da6a3ce929d0e0e4736"))).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });
});

describe("childTraceparent", () => {
  test("keeps the trace id and changes the span id", () => {
    const child = childTraceparent(parent);
    expect(child).toMatch(TRACEPARENT);
    expect(traceIdOf(child)).toBe(traceIdOf(parent));
    expect(child.split("-")[2]).not.toBe(parent.split("-")[2]);
  });

  test("two children of one parent are different spans of the same trace", () => {
    const a = childTraceparent(parent);
    const b = childTraceparent(parent);
    expect(a).not.toBe(b);
    expect(traceIdOf(a)).toBe(traceIdOf(b));
  });

  test.each([undefined, "", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"])(
    "starts a new trace when the parent %j is missing or invalid",
    (value) => {
      const child = childTraceparent(value);
      expect(child).toMatch(TRACEPARENT);
      expect(traceIdOf(child)).not.toBeNull();
      expect(child).not.toContain("0".repeat(32));
    },
  );
});
