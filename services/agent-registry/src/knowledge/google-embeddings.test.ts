import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import type { CredentialProvider, ResolvedCredential } from "@galaxy/contracts";
import { embed, startDevModel, type RunningDevModel } from "@galaxy/dev-model";
import { parseAllowlist } from "@galaxy/webhooks";
import { Embedder } from "./embedder";

/** Knowledge bases embedded with Gemini: the `Embedder` through `@google/genai` against the dev model server's Gemini routes. */

let platform: RunningDevModel;
/** A workspace's own Google endpoint: it answers only the workspace's key. */
let own: RunningDevModel;
const credentials = new Map<string, ResolvedCredential>();
let embedder: Embedder;

const WS = "0190a1b2-0000-7000-8000-0000000000aa";
const OWN_KEY = "AIzaSy-registry-own-3e3e";

beforeAll(async () => {
  platform = await startDevModel();
  own = await startDevModel();
  embedder = new Embedder({
    apiKey: "galaxy-dev",
    baseUrl: `${platform.url}/v1`,
    googleApiKey: "galaxy-dev-google",
    googleBaseUrl: platform.url,
    maxRetries: 2,
    credentials: { get: async (workspaceId: string, provider: CredentialProvider) => credentials.get(`${workspaceId}:${provider}`) ?? null },
    outboundPolicy: parseAllowlist("127.0.0.1"),
  });
});
afterAll(async () => {
  await platform?.close();
  await own?.close();
});
beforeEach(async () => {
  await platform.control({ reset: true });
  await own.control({ reset: true, requireApiKey: OWN_KEY });
  credentials.clear();
});

const settings = async (server: RunningDevModel) => (await fetch(`${server.url}/_control`)).json() as Promise<{ modelCalls: number; lastApiKeyLast4: string | null }>;
const texts = (n: number) => Array.from({ length: n }, (_, i) => `chunk number ${i} about shipping`);

describe("Gemini embeddings", () => {
  test("by the environment's endpoint: one vector per text, in order, in batches of 64, with the environment's key", async () => {
    const inputs = texts(70);
    let batches = 0;
    const vectors = await embedder.embed(WS, { provider: "google", model: "galaxy-dev-embed", source: "platform" }, inputs, () => (batches += 1));
    expect(vectors).toEqual(inputs.map((text) => embed(text)));
    expect(batches).toBe(2);
    expect(await settings(platform)).toMatchObject({ modelCalls: 2, lastApiKeyLast4: "ogle" });
  });

  test("with the workspace's own Google key at its own base URL, Gemini's model (3072 dimensions)", async () => {
    credentials.set(`${WS}:google`, { apiKey: OWN_KEY, baseUrl: own.url });
    const [vector] = await embedder.embed(WS, { provider: "google", model: "gemini-embedding-001", source: "workspace" }, ["refunds within thirty days"]);
    expect(vector).toHaveLength(3072);
    expect(await settings(own)).toMatchObject({ modelCalls: 1, lastApiKeyLast4: "3e3e" });
    expect((await settings(platform)).modelCalls).toBe(0);
  });

  test("a knowledge base made with the workspace's key, now removed, is a clear error, never the platform's key", async () => {
    const error = await embedder.embed(WS, { provider: "google", model: "gemini-embedding-001", source: "workspace" }, ["x"]).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "embedding_credential_missing", message: expect.stringContaining("/api/provider-credentials/google") });
    expect((await settings(platform)).modelCalls).toBe(0);
  });

  test("a refusal (an unknown model) is embedding_failed with Google's message; an outage past the retries is embedding_unavailable", async () => {
    const refused = await embedder.embed(WS, { provider: "google", model: "no-such-embedder", source: "platform" }, ["x"]).catch((caught: unknown) => caught);
    expect(refused).toMatchObject({ code: "embedding_failed", message: expect.stringContaining("no-such-embedder") });

    await platform.control({ failNext: { count: 3, status: 503 } });
    const down = await embedder.embed(WS, { provider: "google", model: "galaxy-dev-embed", source: "platform" }, ["x"]).catch((caught: unknown) => caught);
    expect(down).toMatchObject({ code: "embedding_unavailable" });
    expect((await settings(platform)).modelCalls).toBe(4);
  });

  test("a 429 the SDK's retry outlasts still embeds", async () => {
    await platform.control({ failNext: { count: 1, status: 429 } });
    const [vector] = await embedder.embed(WS, { provider: "google", model: "galaxy-dev-embed", source: "platform" }, ["patience"]);
    expect(vector).toEqual(embed("patience"));
    expect((await settings(platform)).modelCalls).toBe(2);
  });

  test("a workspace base URL the outbound policy refuses is never called", async () => {
    credentials.set(`${WS}:google`, { apiKey: OWN_KEY, baseUrl: "http://169.254.169.254/" });
    const error = await embedder.embed(WS, { provider: "google", model: "gemini-embedding-001", source: "workspace" }, ["x"]).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "embedding_failed", message: expect.stringContaining("not allowed") });
  });
});
