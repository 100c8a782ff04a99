import { describe, expect, test } from "vitest";
import { ValidationError } from "@galaxy/contracts";
import { checkInput } from "./input-check";

const schema = {
  type: "object",
  properties: { message: { type: "string" }, count: { type: "integer", minimum: 1 }, tags: { type: "array", items: { type: "string" } } },
  required: ["message"],
  additionalProperties: false,
};

function refusal(input: unknown, config = { inputSchema: schema }): ValidationError {
  try {
    checkInput("agent", 1, config, input);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error("the input was accepted");
}

describe("checkInput", () => {
  test("an agent without an inputSchema takes any input; a valid one passes", () => {
    expect(() => checkInput("agent", 1, { inputSchema: null }, 42)).not.toThrow();
    expect(() => checkInput("agent", 2, { inputSchema: schema }, { message: "hi", count: 2, tags: ["a"] })).not.toThrow();
  });

  test("every bad field is named under input., missing ones too", () => {
    const error = refusal({ count: 0, tags: ["a", 3] });
    expect(error.code).toBe("input_invalid");
    expect(error.status).toBe(400);
    expect(Object.keys(error.details ?? {}).sort()).toEqual(["input.count", "input.message", "input.tags.1"]);
  });

  test("a non-object input is refused at its root", () => {
    expect(Object.keys(refusal("hello").details ?? {})).toEqual(["input"]);
  });
});
