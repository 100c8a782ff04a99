import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "@galaxy/observability";
import { anthropicRoutes } from "./anthropic.routes";
import { controlRoutes, FaultSwitches } from "./control";
import { openAIErrorResponse, UnknownRouteError } from "./errors";
import { geminiRoutes } from "./gemini.routes";
import { openAIRoutes } from "./openai.routes";

export interface DevModelServerOptions {
  /**
   * Where the server's lines go (`main.ts`: Galaxy's service logger). Default none, so tests
   * stay quiet. Requests are logged at `debug` only: a model call is on the path of every
   * execution, and Fastify's two info lines per call were about a tenth of the server's CPU.
   */
  logger?: Logger;
}

/**
 * The largest request taken, as a provider takes far more than Fastify's 1 MiB default: an
 * execution's input alone may be 1 MiB (a webhook body), and its conversation repeats it.
 */
const REQUEST_BODY_LIMIT = 16 * 1024 * 1024;

/**
 * Builds the dev model server without listening: OpenAI's chat completions,
 * embeddings and models, Anthropic's messages, Gemini's `generateContent` (streamed too) and
 * embeddings, `/_control` fault switches and `/health`. Each instance has its own switches,
 * so parallel tests do not meet.
 */
export function buildDevModelServer(options: DevModelServerOptions = {}): FastifyInstance {
  const loggerInstance: FastifyBaseLogger | undefined = options.logger;
  const app = Fastify({ loggerInstance, logController: new ModelRequestLog(), bodyLimit: REQUEST_BODY_LIMIT });
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

/**
 * One line per answered request, at `debug`, where Fastify writes two per request at `info`; an
 * answer that failed on its way out (its stream broke, the connection went) at `error`.
 */
class ModelRequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const fields = { method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 };
    if (error) reply.log.error({ ...fields, err: error }, "model request failed on its way out");
    else reply.log.debug(fields, "model request answered");
  }
}
