import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { replyTo } from "./chat";
import type { FaultSwitches } from "./control";
import { embed, encodeFloat32Base64 } from "./embeddings";
import { ModelNotFoundError, openAIErrorResponse } from "./errors";
import { EMBEDDING_DEFAULT_DIMENSIONS, isChatModel, isEmbeddingModel, MODEL_IDS, MODELS_CREATED_AT } from "./models";
import { chatCompletion, chatCompletionFrames, completionStamp, conversationFromOpenAI } from "./openai";
import { ChatCompletionRequest, EmbeddingRequest } from "./openai.schemas";
import { parseBody } from "./parse";
import { sendEventStream } from "./sse";
import { countTokens } from "./tokens";

const ModelParams = z.object({ model: z.string() });

/**
 * OpenAI's `/v1/chat/completions`, `/v1/embeddings` and `/v1/models`. Bodies
 * are parsed in the handlers rather than by a route schema so that every
 * failure, validation included, leaves in OpenAI's error shape.
 */
export const openAIRoutes: FastifyPluginAsync<{ faults: FaultSwitches }> = async (app, { faults }) => {
  app.setErrorHandler((error, request, reply) => {
    const response = openAIErrorResponse(error);
    if (response.statusCode >= 500 && response.statusCode !== 503) request.log.error({ err: error }, "dev model request failed");
    return reply.code(response.statusCode).headers(response.headers).send(response.body);
  });

  app.post("/v1/chat/completions", async (request, reply) => {
    await faults.admit(bearerKey(request.headers.authorization));
    const body = parseBody(ChatCompletionRequest, request.body);
    if (!isChatModel(body.model)) throw new ModelNotFoundError(body.model);
    const answer = replyTo(conversationFromOpenAI(body.model, body));
    const stamp = completionStamp(body.model, body, new Date());
    if (body.stream) return sendEventStream(reply, chatCompletionFrames(stamp, answer, body.stream_options?.include_usage === true));
    return chatCompletion(stamp, answer);
  });

  app.post("/v1/embeddings", async (request) => {
    await faults.admit(bearerKey(request.headers.authorization));
    const body = parseBody(EmbeddingRequest, request.body);
    if (!isEmbeddingModel(body.model)) throw new ModelNotFoundError(body.model);
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    const dimensions = body.dimensions ?? EMBEDDING_DEFAULT_DIMENSIONS[body.model];
    const promptTokens = inputs.reduce((sum, input) => sum + countTokens(input), 0);
    return {
      object: "list",
      data: inputs.map((input, index) => {
        const vector = embed(input, dimensions);
        return { object: "embedding", index, embedding: body.encoding_format === "base64" ? encodeFloat32Base64(vector) : vector };
      }),
      model: body.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
  });

  app.get("/v1/models", async (request) => {
    // Anthropic's SDK lists models at the same path; its version header tells the two apart.
    if (request.headers["anthropic-version"] !== undefined) {
      return {
        data: MODEL_IDS.map((id) => ({ type: "model", id, display_name: id, created_at: new Date(MODELS_CREATED_AT * 1000).toISOString() })),
        has_more: false,
        first_id: MODEL_IDS[0] ?? null,
        last_id: MODEL_IDS.at(-1) ?? null,
      };
    }
    return { object: "list", data: MODEL_IDS.map(openAIModel) };
  });

  app.get("/v1/models/:model", async (request) => {
    const { model } = parseBody(ModelParams, request.params);
    if (!MODEL_IDS.includes(model)) throw new ModelNotFoundError(model);
    return openAIModel(model);
  });
};

/** The key of `Authorization: Bearer <key>`, as OpenAI reads it. */
function bearerKey(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

function openAIModel(id: string) {
  return { id, object: "model", created: MODELS_CREATED_AT, owned_by: "galaxy" };
}
