import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { z } from "zod";
import { digest, replyTo } from "./chat";
import type { FaultSwitches } from "./control";
import { embed } from "./embeddings";
import { geminiErrorResponse, ModelNotFoundError, UnknownRouteError } from "./errors";
import { conversationFromGemini, geminiResponse, geminiStreamFrames } from "./gemini";
import { BatchEmbedContentsRequest, EmbedContentRequest, GenerateContentRequest } from "./gemini.schemas";
import { EMBEDDING_DEFAULT_DIMENSIONS, isChatModel, isEmbeddingModel, MODEL_IDS, type EmbeddingModelId } from "./models";
import { parseBody } from "./parse";
import { sendEventStream } from "./sse";

// `galaxy-dev-echo:streamGenerateContent`: Gemini puts the method after the model, past a colon.
const ModelCall = z.object({ call: z.string().regex(/^[^:]+:[A-Za-z]+$/) });

/**
 * Gemini's `POST /v1beta/models/{model}:{method}`: `generateContent`,
 * `streamGenerateContent?alt=sse`, `embedContent` and `batchEmbedContents`, and the model list
 * (`GET /v1beta/models`, `GET /v1beta/models/{model}`); every failure leaves in Google's error shape.
 */
export const geminiRoutes: FastifyPluginAsync<{ faults: FaultSwitches }> = async (app, { faults }) => {
  app.setErrorHandler((error, request, reply) => {
    const response = geminiErrorResponse(error);
    if (response.statusCode >= 500 && response.statusCode !== 503) request.log.error({ err: error }, "dev model request failed");
    return reply.code(response.statusCode).headers(response.headers).send(response.body);
  });

  app.get("/v1beta/models", async () => ({ models: MODEL_IDS.map(geminiModel) }));

  app.get("/v1beta/models/:model", async (request) => {
    const { model } = z.object({ model: z.string() }).parse(request.params);
    if (!MODEL_IDS.includes(model)) throw new ModelNotFoundError(model);
    return geminiModel(model);
  });

  app.post("/v1beta/models/:call", async (request, reply) => {
    const parsed = ModelCall.safeParse(request.params);
    if (!parsed.success) throw new UnknownRouteError(request.method, request.url);
    const [model = "", method = ""] = parsed.data.call.split(":");
    switch (method) {
      case "generateContent":
      case "streamGenerateContent": {
        await faults.admit(presentedKey(request));
        const body = parseBody(GenerateContentRequest, request.body);
        if (!isChatModel(model)) throw new ModelNotFoundError(model);
        const answer = replyTo(conversationFromGemini(model, body));
        const responseId = digest([model, body.systemInstruction ?? null, body.contents, body.tools ?? null]);
        if (method === "streamGenerateContent") return sendEventStream(reply, geminiStreamFrames(responseId, model, answer));
        return geminiResponse(responseId, model, answer);
      }
      case "embedContent": {
        await faults.admit(presentedKey(request));
        const body = parseBody(EmbedContentRequest, request.body);
        return { embedding: { values: embedding(embeddingModel(model), body) } };
      }
      case "batchEmbedContents": {
        await faults.admit(presentedKey(request));
        const body = parseBody(BatchEmbedContentsRequest, request.body);
        const id = embeddingModel(model);
        return { embeddings: body.requests.map((one) => ({ values: embedding(id, one) })) };
      }
      default:
        throw new UnknownRouteError(request.method, request.url);
    }
  });
};

function geminiModel(id: string) {
  const methods = isEmbeddingModel(id) ? ["embedContent", "batchEmbedContents"] : ["generateContent", "streamGenerateContent"];
  return { name: `models/${id}`, version: "1", displayName: id, supportedGenerationMethods: methods };
}

function embeddingModel(model: string): EmbeddingModelId {
  if (!isEmbeddingModel(model)) throw new ModelNotFoundError(model);
  return model;
}

/** The text of a content's parts, embedded at the asked dimensionality (else the model's). */
function embedding(model: EmbeddingModelId, request: { content: { parts: { text: string }[] }; outputDimensionality?: number | undefined }): number[] {
  const text = request.content.parts.map((part) => part.text).join("\n");
  return embed(text, request.outputDimensionality ?? EMBEDDING_DEFAULT_DIMENSIONS[model]);
}

/** Gemini reads `x-goog-api-key`, or a `key` query parameter. */
function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers["x-goog-api-key"];
  if (typeof header === "string" && header.length > 0) return header;
  const query = z.object({ key: z.string().min(1) }).safeParse(request.query);
  return query.success ? query.data.key : undefined;
}
