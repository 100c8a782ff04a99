import { describe, expect, test } from "vitest";
import { errorOf, GalaxyApiError } from "./errors.js";
import { fetchWithRetries } from "./retry.js";

/**
 * The SDK's retries (README, "idempotency and retries"): what it sends again and what it
 * returns at once. `answers` stands for the network: each call takes the next answer.
 */
function network(answers: Array<() => Response>) {
  const seen: Request[] = [];
  const fetchImpl = async (request: Request) => {
    seen.push(request);
    const next = answers[Math.min(seen.length - 1, answers.length - 1)];
    if (!next) throw new Error("no answer");
    return next();
  };
  return { seen, fetchImpl };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const UNAVAILABLE = { error: "Service Unavailable", code: "service_unavailable", message: "retry" };
const TOO_LARGE = { error: "Service Unavailable", code: "reply_too_large", message: "raise max_payload" };
const unavailable = json(503, UNAVAILABLE, { "retry-after": "0" });
const tooLarge = json(503, TOO_LARGE);
const created = json(201, { data: {} });
const post = () => new Request("http://galaxy.test/api/agents", { method: "POST", headers: { "idempotency-key": "k-1" }, body: "{}" });
const policy = { maxRetries: 3, maxDelayMs: 1_000 };

describe("retries", () => {
  test("a 503 with Retry-After is sent again with the same Idempotency-Key until it succeeds", async () => {
    const { seen, fetchImpl } = network([unavailable, unavailable, created]);
    const response = await fetchWithRetries(post(), policy, fetchImpl);
    expect(response.status).toBe(201);
    expect(seen.map((r) => r.headers.get("idempotency-key"))).toEqual(["k-1", "k-1", "k-1"]);
  });

  test("a 503 of Galaxy's without Retry-After (a configuration to fix) is returned at once, and its error is not retryable", async () => {
    const { seen, fetchImpl } = network([tooLarge, created]);
    const response = await fetchWithRetries(post(), policy, fetchImpl);
    expect(response.status).toBe(503);
    expect(seen).toHaveLength(1);
    expect(new GalaxyApiError(503, TOO_LARGE, response.headers).retryable).toBe(false);
    expect(new GalaxyApiError(503, UNAVAILABLE, unavailable().headers).retryable).toBe(true);
  });

  test("a proxy's 503, with no error code, is retried; a 400 never is; retries stop after maxRetries", async () => {
    const proxy = () => new Response("<html>Bad gateway</html>", { status: 503 });
    const first = network([proxy, created]);
    expect((await fetchWithRetries(post(), { maxRetries: 3, maxDelayMs: 1_000 }, first.fetchImpl)).status).toBe(201);
    expect(first.seen).toHaveLength(2);
    // Its error says so too, as the client's own retries judge it.
    const page = proxy();
    expect((await errorOf(page)).retryable).toBe(true);

    const refused = network([json(400, { error: "Bad Request", code: "validation_failed", message: "no" }), created]);
    expect((await fetchWithRetries(post(), policy, refused.fetchImpl)).status).toBe(400);
    expect(refused.seen).toHaveLength(1);

    const always = network([unavailable]);
    expect((await fetchWithRetries(post(), { maxRetries: 2, maxDelayMs: 1_000 }, always.fetchImpl)).status).toBe(503);
    expect(always.seen).toHaveLength(3);
  });
});
