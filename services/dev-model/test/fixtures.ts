import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { test as base } from "vitest";
import { startDevModel, type RunningDevModel } from "./test-server";

/**
 * The fixtures of the dev model's tests, each set up once per file when a test asks for it:
 * - `server`: a dev model server of the file's own on a free loopback port (test-server.ts),
 *   closed after the file's last test;
 * - `openai`, `anthropic`, `gemini`: the providers' real clients against it, never retrying.
 * A file whose tests change the fault switches resets them before each test
 * (`test.beforeEach(({ server }) => server.control({ reset: true }))`).
 */
export const devModelTest = base
  .extend("server", { scope: "file" }, async ({}, { onCleanup }): Promise<RunningDevModel> => {
    const server = await startDevModel();
    onCleanup(() => server.close());
    return server;
  })
  .extend("openai", { scope: "file" }, async ({ server }) => new OpenAI({ apiKey: "dev", baseURL: `${server.url}/v1`, maxRetries: 0 }))
  .extend("anthropic", { scope: "file" }, async ({ server }) => new Anthropic({ apiKey: "dev", baseURL: server.url, maxRetries: 0 }))
  .extend("gemini", { scope: "file" }, async ({ server }) => new GoogleGenAI({ apiKey: "dev-gemini-key", vertexai: false, httpOptions: { baseUrl: server.url } }));
