import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { buildDevModelServer } from "../src/app";
import type { ControlSettings, ControlUpdate } from "../src/control";
import { FAULT_STATUSES } from "../src/errors";

/**
 * A dev model server listening on a free loopback port, for tests that drive it with the real
 * SDKs. Other packages' tests import it as `@galaxy/dev-model/testing`; it lives outside `src/`,
 * so the services' builds never include it.
 */
export interface RunningDevModel {
  app: FastifyInstance;
  /** Base URL without a path, e.g. `http://127.0.0.1:41234`; OpenAI clients add `/v1`. */
  url: string;
  /** Sets the fault switches over HTTP, as a test in another process would. */
  control(update: ControlUpdate): Promise<void>;
  /** Reads the switches and the model calls counted since the last reset, over HTTP. */
  settings(): Promise<ControlSettings>;
  close(): Promise<void>;
}

export async function startDevModel(): Promise<RunningDevModel> {
  const app = buildDevModelServer();
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    app,
    url,
    control: (update) => controlDevModel(url, update),
    settings: () => devModelSettings(url),
    close: () => app.close(),
  };
}

/** `POST /_control` of the dev model server at `url` (this process's or another's). */
export async function controlDevModel(url: string, update: ControlUpdate): Promise<void> {
  const response = await fetch(`${url}/_control`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(update),
  });
  if (!response.ok) throw new Error(`POST /_control answered ${response.status}: ${await response.text()}`);
}

const Settings = z.object({
  latencyMs: z.number(),
  failNext: z.object({ count: z.number(), status: z.literal(FAULT_STATUSES), retryAfterS: z.number() }).nullable(),
  modelCalls: z.number(),
  apiKeyRequired: z.boolean(),
  lastApiKeyLast4: z.string().nullable(),
}) satisfies z.ZodType<ControlSettings>;

/** `GET /_control` of the dev model server at `url`. */
export async function devModelSettings(url: string): Promise<ControlSettings> {
  const response = await fetch(`${url}/_control`);
  if (!response.ok) throw new Error(`GET /_control answered ${response.status}: ${await response.text()}`);
  return Settings.parse(await response.json());
}
