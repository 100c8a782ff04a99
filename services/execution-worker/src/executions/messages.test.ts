import { describe, expect, test } from "vitest";
import { userMessage } from "./messages";

describe("the user message", () => {
  test("is input.message when that is a string", () => {
    expect(userMessage({ message: "hello", other: 1 })).toBe("hello");
  });

  test("is the input as JSON otherwise", () => {
    expect(userMessage({ message: 42 })).toBe('{"message":42}');
    expect(userMessage("plain")).toBe('"plain"');
    expect(userMessage([1, 2])).toBe("[1,2]");
    expect(userMessage(null)).toBe("null");
    expect(userMessage(undefined)).toBe("null");
  });
});
