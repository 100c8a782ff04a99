import Fastify, { type FastifyInstance } from "fastify";
import { anthropicRoutes } from "./anthropic.routes";
import { controlRoutes, FaultSwitches } from "./control";
import { openAIErrorResponse, UnknownRouteError } from "./errors";
import { geminiRoutes } from "./gemini.routes";
import { openAIRoutes } from "./openai.routes";

export interface DevModelServerOptions {
  /** Log each request with Fastify's pino logger. Default false, so tests stay quiet. */
  logger?: boolean;
}

/**
 * Builds the dev model server without listening: OpenAI's chat completions,
 * embeddings and models, Anthropic's messages, Gemini's `generateContent` (streamed too) and
 * embeddings, `/_control` fault switches and `/health`. Each instance has its own switches,
 * so parallel tests do not meet.
 */
export function buildDevModelServer(options: DevModelServerOptions = {}): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false });
  const faults = new FaultSwitches();

  app.get("/health", async () => ({ status: "ok" }));
  app.register(controlRoutes, { faults });
  app.register(openAIRoutes, { faults });
  app.register(anthropicRoutes, { faults });
  app.register(geminiRoutes, { faults });

  app.setNotFoundHandler((request, reply) => {
    const { body } = openAIErrorResponse(new UnknownRouteError(request.method, request.url));
    return reply.code(404).send(body);
  });

  return app;
}
