import { describe, expect, test } from "vitest";
import { isTransient } from "@galaxy/bus";
import { retryTransient } from "./transient";

const pgError = (code: string, message = "boom") => Object.assign(new Error(message), { code });

describe("given a database error, when classified, then only an engine away for a moment is transient", () => {
  test.each([
    ["a refused connection (restart under way)", pgError("ECONNREFUSED")],
    ["a reset connection", pgError("ECONNRESET")],
    ["an administrator's shutdown of the session", pgError("57P01", "terminating connection due to administrator command")],
    ["a server starting up", pgError("57P03", "the database system is starting up")],
    ["a connection exception", pgError("08006")],
    ["a serialization failure", pgError("40001")],
    ["node-postgres losing the connection mid-query", new Error("Connection terminated unexpectedly")],
  ])("%s is transient", (_, error) => expect(isTransient(error)).toBe(true));

  test.each([
    ["a unique violation", pgError("23505")],
    ["a syntax error", pgError("42601")],
    ["an invalid JSON value", pgError("22P02")],
    ["not an Error at all", "connection terminated"],
  ])("%s is not", (_, error) => expect(isTransient(error)).toBe(false));
});

describe("given a write, when it fails transiently, then it is tried again in place", () => {
  test("until it succeeds, with each retry told", async () => {
    let calls = 0;
    const retries: number[] = [];
    const result = await retryTransient(
      async () => {
        calls += 1;
        if (calls < 3) throw pgError("ECONNREFUSED");
        return "written";
      },
      { firstDelayMs: 1, onRetry: (_, attempt) => retries.push(attempt) },
    );
    expect(result).toBe("written");
    expect(calls).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  test("but a statement at fault is not tried again", async () => {
    let calls = 0;
    const failing = retryTransient(async () => {
      calls += 1;
      throw pgError("23505");
    });
    await expect(failing).rejects.toMatchObject({ code: "23505" });
    expect(calls).toBe(1);
  });

  test("and an outage longer than the budget lets the last error through", async () => {
    let calls = 0;
    const failing = retryTransient(
      async () => {
        calls += 1;
        throw pgError("ECONNREFUSED");
      },
      { budgetMs: 30, firstDelayMs: 5 },
    );
    await expect(failing).rejects.toMatchObject({ code: "ECONNREFUSED" });
    expect(calls).toBeGreaterThan(1);
  });
});
