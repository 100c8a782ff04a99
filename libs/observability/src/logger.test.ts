import { Writable } from "node:stream";
import { describe, expect, test, vi } from "vitest";
import { REDACTED, SECRET_FIELDS } from "@galaxy/contracts";
import { createLogger, lazyChild, type Logger } from "./logger";

/** A logger writing JSON lines into an array the test reads. */
function capture(): { logger: Logger; lines: () => Array<Record<string, unknown>>; raw: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  const logger = createLogger({ service: "test-service", level: "info", destination });
  const raw = () => chunks.join("");
  const lines = () =>
    raw()
      .split("\n")
      .filter(Boolean)
      .map((line): Record<string, unknown> => {
        const parsed: unknown = JSON.parse(line);
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`not a JSON object line: ${line}`);
        return Object.fromEntries(Object.entries(parsed));
      });
  return { logger, lines, raw };
}

describe("createLogger", () => {
  test("writes JSON lines naming the service", () => {
    const { logger, lines } = capture();
    logger.info({ agentId: "a1" }, "agent created");
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ service: "test-service", name: "test-service", agentId: "a1", msg: "agent created", level: 30 });
  });

  test.each(SECRET_FIELDS)("redacts %s at the top level and nested", (field) => {
    const { logger, raw, lines } = capture();
    logger.info({ [field]: "s3cr3t-top", nested: { [field]: "s3cr3t-1" }, deeper: { more: { [field]: "s3cr3t-2" } } }, "line");
    expect(raw()).not.toContain("s3cr3t");
    expect(lines()[0]).toMatchObject({ [field]: REDACTED, nested: { [field]: REDACTED }, deeper: { more: { [field]: REDACTED } } });
  });

  test("redacts secret fields however deep, inside arrays, and in any case", () => {
    const { logger, raw, lines } = capture();
    logger.info(
      {
        request: { body: { user: { Password: "leak-1" }, keys: [{ id: "k1", apiKey: "leak-2" }] } },
        list: [[{ nested: { TOKEN: "leak-3" } }]],
        headers: { "Gx-Claim": "leak-4", Authorization: "Bearer leak-5" },
        req: { headers: { authorization: "Bearer leak-6", "webhook-signature": "v1,leak-7" } },
        keyId: "kid-1",
      },
      "request",
    );
    expect(raw()).not.toMatch(/leak-\d/);
    expect(lines()[0]).toMatchObject({
      request: { body: { user: { Password: REDACTED }, keys: [{ id: "k1", apiKey: REDACTED }] } },
      list: [[{ nested: { TOKEN: REDACTED } }]],
      keyId: "kid-1",
    });
  });

  test("keeps errors readable while redacting their secret properties", () => {
    const { logger, raw, lines } = capture();
    const error = Object.assign(new Error("the provider refused"), { apiKey: "leak-err", status: 401 });
    logger.error({ err: error, attempt: 2 }, "model call failed");
    expect(raw()).not.toContain("leak-err");
    const line = lines()[0];
    expect(line).toMatchObject({ attempt: 2, err: { type: "Error", message: "the provider refused", status: 401, apiKey: REDACTED } });
    expect(JSON.stringify(line?.err)).toContain("stack");
  });

  test("logs objects with cycles and shared parts without losing either", () => {
    const { logger, lines } = capture();
    const shared = { region: "eu" };
    const looped: Record<string, unknown> = { name: "loop", secret: "leak-loop" };
    looped.self = looped;
    logger.info({ a: shared, b: shared, looped }, "cycles");
    expect(lines()[0]).toMatchObject({ a: { region: "eu" }, b: { region: "eu" }, looped: { name: "loop", secret: REDACTED, self: "[Circular]" } });
  });

  test("does not change the object it was given", () => {
    const { logger } = capture();
    const payload = { user: { password: "still-here" } };
    logger.info(payload, "x");
    expect(payload.user.password).toBe("still-here");
  });

  test("child loggers redact too", () => {
    const { logger, raw } = capture();
    logger.child({ op: "identity.auth.login" }).warn({ body: { form: { password: "leak-child" } } }, "login failed");
    expect(raw()).not.toContain("leak-child");
    expect(raw()).toContain("identity.auth.login");
  });

  test("respects its level", () => {
    const { logger, lines } = capture();
    logger.debug("hidden");
    logger.info("shown");
    expect(lines().map((l) => l.msg)).toEqual(["shown"]);
  });
});

describe("lazyChild", () => {
  test("makes its child once, on first use, and the child's lines carry the bindings", () => {
    const { logger, lines } = capture();
    const made = vi.spyOn(logger, "child");
    const lazy = lazyChild(logger, { consumer: "c1", seq: 7 });
    expect(made).not.toHaveBeenCalled();
    lazy().info("one");
    lazy().info("two");
    expect(made).toHaveBeenCalledTimes(1);
    expect(lines().map((line) => [line.msg, line.consumer, line.seq])).toEqual([["one", "c1", 7], ["two", "c1", 7]]);
  });
});
