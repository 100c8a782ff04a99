import { describe, expect, test } from "vitest";
import { calculate, CalculatorError, MAX_EXPRESSION_LENGTH } from "./calculator";

describe("the calculator", () => {
  test.each([
    ["2 + 3 * 4", 14],
    ["(2 + 3) * 4", 20],
    ["10 / 4", 2.5],
    ["10 % 4", 2],
    ["2 ^ 3 ^ 2", 512],
    ["2 ** 10", 1024],
    ["-2 ^ 2", -4],
    ["(-2) ^ 2", 4],
    ["--3", 3],
    ["1.5e3 + .5", 1500.5],
    ["0.1 + 0.2", 0.3],
    ["sqrt(16) + abs(-3)", 7],
    ["max(1, 7, 3) - min(4, 2)", 5],
    ["round(2.5) + floor(2.7) + ceil(2.1)", 8],
    ["pow(2, 8)", 256],
    ["2 * PI", 6.28318530718],
    ["ln(e)", 1],
    ["log10(1000)", 3],
  ])("%s = %d", (expression, expected) => {
    expect(calculate(expression)).toBe(expected);
  });

  test.each([
    ["", "The expression is empty"],
    ["2 +", "The expression ends too early"],
    ["2 + * 4", "Unexpected '*' at position 5"],
    ["(1 + 2", "Expected ')' at the end"],
    ["1 + 2)", "Unexpected ')' at position 6"],
    ["1 / 0", "Division by zero"],
    ["5 % 0", "Division by zero"],
    ["sqrt(-1)", "The result is not a finite number"],
    ["10 ^ 400", "The result is not a finite number"],
    ["process.exit(1)", "Unexpected character '.' at position 8"],
    ["process", "Unknown name 'process' at position 1"],
    ["constructor", "Unknown name 'constructor' at position 1"],
    ["pow(2)", "pow takes 2 arguments"],
    ["max()", "max takes 1 to 64 arguments"],
    ["2; 3", "Unexpected character ';' at position 2"],
    ["'1' + 1", "Unexpected character ''' at position 1"],
  ])("%j is refused: %s", (expression, message) => {
    expect(() => calculate(expression)).toThrow(new CalculatorError(message));
  });

  test("deep nesting and long input are refused before they cost anything", () => {
    expect(() => calculate(`${"(".repeat(100)}1${")".repeat(100)}`)).toThrow(/nests deeper than 64/);
    expect(() => calculate("-".repeat(100) + "1")).toThrow(/nests deeper than 64/);
    expect(() => calculate("1+".repeat(MAX_EXPRESSION_LENGTH) + "1")).toThrow(/longer than/);
  });

  test("the error carries a stable code", () => {
    const error = (() => {
      try {
        calculate("x");
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ code: "invalid_expression" });
  });
});
