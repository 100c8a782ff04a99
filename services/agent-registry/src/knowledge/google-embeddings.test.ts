import { describe, expect, test as base } from "vitest";
import type { CredentialProvider, ResolvedCredential } from "@galaxy/contracts";
import { embed } from "@galaxy/dev-model";
import { startDevModel, type RunningDevModel } from "@galaxy/dev-model/testing";
import { parseAllowlist } from "@galaxy/webhooks";
import { Embedder } from "./embedder";

/** Knowledge bases embedded with Gemini: the `Embedder` through `@google/genai` against the dev model server's Gemini routes. */

const WS = "0190a1b2-0000-7000-8000-0000000000aa";
const OWN_KEY = "AIzaSy-registry-own-3e3e";

/**
 * Each set up once per file, the servers closed after its last test:
 * - `platform`: the environment's endpoint, a dev model server;
 * - `own`: a workspace's own Google endpoint, another one: it answers only the workspace's key;
 * - `credentials`: the workspaces' own keys, as identity would resolve them;
 * - `embedder`: the `Embedder` on `platform` (Google's key `galaxy-dev-google`), reading `credentials`.
 * Before each test both servers are reset (`own` asks for `OWN_KEY` again) and `credentials` emptied.
 */
const test = base
  .extend("platform", { scope: "file" }, async ({}, { onCleanup }): Promise<RunningDevModel> => {
    const platform = await startDevModel();
    onCleanup(() => platform.close());
    return platform;
  })
  .extend("own", { scope: "file" }, async ({}, { onCleanup }): Promise<RunningDevModel> => {
    const own = await startDevModel();
    onCleanup(() => own.close());
    return own;
  })
  .extend("credentials", { scope: "file" }, async ({}) => new Map<string, ResolvedCredential>())
  .extend("embedder", { scope: "file" }, async ({ platform, credentials }) =>
    new Embedder({
      apiKey: "galaxy-dev",
      baseUrl: `${platform.url}/v1`,
      googleApiKey: "galaxy-dev-google",
      googleBaseUrl: platform.url,
      maxRetries: 2,
      credentials: { get: async (workspaceId: string, provider: CredentialProvider) => credentials.get(`${workspaceId}:${provider}`) ?? null },
      outboundPolicy: parseAllowlist("127.0.0.1"),
    }));
test.beforeEach(async ({ platform, own, credentials }) => {
  await platform.control({ reset: true });
  await own.control({ reset: true, requireApiKey: OWN_KEY });
  credentials.clear();
});

const settings = (server: RunningDevModel) => server.settings();
const texts = (n: number) => Array.from({ length: n }, (_, i) => `chunk number ${i} about shipping`);

describe("Gemini embeddings", () => {
  test("by the environment's endpoint: one vector per text, in order, in batches of 64, with the environment's key", async ({ embedder, platform }) => {
    const inputs = texts(70);
    let batches = 0;
    const vectors = await embedder.embed(WS, { provider: "google", model: "galaxy-dev-embed", source: "platform" }, inputs, () => (batches += 1));
    expect(vectors).toEqual(inputs.map((text) => embed(text)));
    expect(batches).toBe(2);
    expect(await settings(platform)).toMatchObject({ modelCalls: 2, lastApiKeyLast4: "ogle" });
  });

  test("with the workspace's own Google key at its own base URL, Gemini's model (3072 dimensions)", async ({ embedder, platform, own, credentials }) => {
    credentials.set(`${WS}:google`, { apiKey: OWN_KEY, baseUrl: own.url });
    const [vector] = await embedder.embed(WS, { provider: "google", model: "gemini-embedding-001", source: "workspace" }, ["refunds within thirty days"]);
    expect(vector).toHaveLength(3072);
    expect(await settings(own)).toMatchObject({ modelCalls: 1, lastApiKeyLast4: "3e3e" });
    expect((await settings(platform)).modelCalls).toBe(0);
  });

  test("a knowledge base made with the workspace's key, now removed, is a clear error, never the platform's key", async ({ embedder, platform }) => {
    const error = await embedder.embed(WS, { provider: "google", model: "gemini-embedding-001", source: "workspace" }, ["x"]).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "embedding_credential_missing", message: expect.stringContaining("/api/provider-credentials/google") });
    expect((await settings(platform)).modelCalls).toBe(0);
  });

  test("a refusal (an unknown model) is embedding_failed with Google's message; an outage past the retries is embedding_unavailable", async ({ embedder, platform }) => {
    const refused = await embedder.embed(WS, { provider: "google", model: "no-such-embedder", source: "platform" }, ["x"]).catch((caught: unknown) => caught);
    expect(refused).toMatchObject({ code: "embedding_failed", message: expect.stringContaining("no-such-embedder") });

    await platform.control({ failNext: { count: 3, status: 503 } });
    const down = await embedder.embed(WS, { provider: "google", model: "galaxy-dev-embed", source: "platform" }, ["x"]).catch((caught: unknown) => caught);
    expect(down).toMatchObject({ code: "embedding_unavailable" });
    expect((await settings(platform)).modelCalls).toBe(4);
  });

  test("a 429 the SDK's retry outlasts still embeds", async ({ embedder, platform }) => {
    await platform.control({ failNext: { count: 1, status: 429 } });
    const [vector] = await embedder.embed(WS, { provider: "google", model: "galaxy-dev-embed", source: "platform" }, ["patience"]);
    expect(vector).toEqual(embed("patience"));
    expect((await settings(platform)).modelCalls).toBe(2);
  });

  test("a workspace base URL the outbound policy refuses is never called", async ({ embedder, credentials }) => {
    credentials.set(`${WS}:google`, { apiKey: OWN_KEY, baseUrl: "http://169.254.169.254/" });
    const error = await embedder.embed(WS, { provider: "google", model: "gemini-embedding-001", source: "workspace" }, ["x"]).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "embedding_failed", message: expect.stringContaining("not allowed") });
  });
});
