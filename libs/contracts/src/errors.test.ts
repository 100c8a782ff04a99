import { describe, expect, test } from "vitest";
import { z } from "zod";
import { CreateAgentBody } from "./agents";
import {
  ConflictError, ErrorBody, ForbiddenError, GalaxyError, issueDetails, NotFoundError, parseOrThrow, UnauthorizedError, UnavailableError,
  ValidationError,
} from "./errors";

describe("GalaxyError.toBody", () => {
  test("renders the docs/api.md body with the status's title", () => {
    const error = new GalaxyError(409, "agent_not_active", "The agent is paused");
    expect(error.toBody()).toEqual({ error: "Conflict", code: "agent_not_active", message: "The agent is paused" });
    expect(Object.hasOwn(error.toBody(), "details")).toBe(false);
  });

  test("carries details when there are some", () => {
    const error = new ValidationError("The request is invalid", { name: "Too small" });
    expect(error.toBody()).toEqual({ error: "Validation Error", code: "validation_failed", message: "The request is invalid", details: { name: "Too small" } });
  });

  test.each([
    [new ValidationError("bad"), 400, "Validation Error", "validation_failed"],
    [new UnauthorizedError(), 401, "Unauthorized", "unauthorized"],
    [new ForbiddenError(), 403, "Forbidden", "forbidden"],
    [new NotFoundError("agent", "a1"), 404, "Not Found", "agent_not_found"],
    [new NotFoundError("knowledge base"), 404, "Not Found", "knowledge_base_not_found"],
    [new NotFoundError("API key"), 404, "Not Found", "api_key_not_found"],
    [new ConflictError("slug_taken", "taken"), 409, "Conflict", "slug_taken"],
    [new UnavailableError("down"), 503, "Service Unavailable", "service_unavailable"],
  ])("%s is a %i %s with code %s, and its body is a valid ErrorBody", (error, status, title, code) => {
    expect(error.status).toBe(status);
    expect(error.code).toBe(code);
    expect(error.toBody().error).toBe(title);
    expect(ErrorBody.safeParse(error.toBody()).success).toBe(true);
    expect(error).toBeInstanceOf(GalaxyError);
    expect(error).toBeInstanceOf(Error);
  });

  test("only unavailability is retryable by default", () => {
    expect(new UnavailableError("down").retryable).toBe(true);
    expect(new GalaxyError(503, "bus_down", "down").retryable).toBe(true);
    expect(new ValidationError("bad").retryable).toBe(false);
    expect(new GalaxyError(500, "internal_error", "oops").retryable).toBe(false);
    expect(new GalaxyError(409, "busy", "busy", { retryable: true }).retryable).toBe(true);
  });

  test("keeps its cause but never puts it in the body", () => {
    const cause = new Error("connection refused 10.0.0.7:4222");
    const error = new UnavailableError("the bus is down", { cause });
    expect(error.cause).toBe(cause);
    expect(JSON.stringify(error.toBody())).not.toContain("10.0.0.7");
  });
});

describe("parseOrThrow", () => {
  const validBody = { name: "Agent", provider: "openai", model: "m", systemPrompt: "s" };

  test("returns the parsed value when it matches", () => {
    expect(parseOrThrow(CreateAgentBody, validBody, "agent")).toEqual(validBody);
  });

  test("throws a 400 ValidationError whose details name every bad field by its path", () => {
    const bad = { ...validBody, provider: "mistral", temperature: 3, tools: [{ type: "webhook", name: "has space", description: "d", parameters: {}, url: "https://x.test/t" }] };
    let thrown: unknown;
    try {
      parseOrThrow(CreateAgentBody, bad, "agent");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    if (!(thrown instanceof ValidationError)) return;
    expect(thrown.status).toBe(400);
    expect(thrown.message).toBe("The agent is invalid");
    expect(Object.keys(thrown.details ?? {}).sort()).toEqual(["provider", "temperature", "tools.0.name"]);
    expect(thrown.details?.["tools.0.name"]).toBe("letters, digits, _ and -, at most 64");
  });

  test("names a missing field and an unknown one", () => {
    const error = captureValidation(() => parseOrThrow(CreateAgentBody, { provider: "openai", model: "m", systemPrompt: "s", colour: "red" }));
    expect(Object.keys(error.details ?? {}).sort()).toEqual(["(root)", "name"]);
    expect(error.details?.["(root)"]).toContain("colour");
  });

  test("issueDetails puts a prefix before every path and keeps the first message per path", () => {
    const result = z.object({ limit: z.number().int().min(1) }).safeParse({ limit: 0.5 });
    if (result.success) throw new Error("should fail");
    const details = issueDetails(result.error, "query");
    expect(Object.keys(details)).toEqual(["query.limit"]);
    expect(details["query.limit"]).toBe(result.error.issues[0]?.message);
  });

  test("a root-level failure is reported on (root)", () => {
    const error = captureValidation(() => parseOrThrow(CreateAgentBody, "not an object"));
    expect(Object.keys(error.details ?? {})).toEqual(["(root)"]);
  });
});

function captureValidation(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error("expected a ValidationError");
}
