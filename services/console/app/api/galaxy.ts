import { Galaxy } from "@galaxy/sdk";
import { GalaxyClient } from "./client";
import { sessionStore } from "../session/session";

/** Every call of the console: the session's current token on it, and a 401 to a signed-in call ends the session. */
async function sessionFetch(request: Request): Promise<Response> {
  const token = sessionStore.get()?.accessToken ?? null;
  if (token && !request.headers.has("authorization")) request.headers.set("authorization", `Bearer ${token}`);
  const response = await fetch(request);
  if (response.status === 401 && token) sessionStore.set(null);
  return response;
}

/**
 * `@galaxy/sdk`, the typed client generated from `/openapi.json`: same origin as the page. It
 * sends an `Idempotency-Key` with every mutation, retries 429 and 503 as `Retry-After` asks,
 * and throws a `GalaxyApiError` for an error answer. The pages call `sdk.api.GET(…)` and the like.
 */
export const sdk = new Galaxy({ baseUrl: window.location.origin, fetch: sessionFetch });

/** The console's untyped client, for what the SDK's typed calls do not cover (streams, the NDJSON export). */
export const galaxy = new GalaxyClient({
  baseUrl: "",
  token: () => sessionStore.get()?.accessToken ?? null,
  onUnauthorized: () => sessionStore.set(null),
});
