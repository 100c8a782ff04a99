import type { FastifyInstance } from "fastify";
import { buildDevModelServer } from "../src/app";
import type { ControlUpdate } from "../src/control";

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
  close(): Promise<void>;
}

export async function startDevModel(): Promise<RunningDevModel> {
  const app = buildDevModelServer();
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    app,
    url,
    async control(update) {
      const response = await fetch(`${url}/_control`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(update),
      });
      if (!response.ok) throw new Error(`POST /_control answered ${response.status}: ${await response.text()}`);
    },
    close: () => app.close(),
  };
}
