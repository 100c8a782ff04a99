import type { FastifyPluginAsync } from "fastify";
import { anthropicMessage, anthropicMessageFrames, conversationFromAnthropic, messageId } from "./anthropic";
import { MessagesRequest } from "./anthropic.schemas";
import { replyTo } from "./chat";
import type { FaultSwitches } from "./control";
import { anthropicErrorResponse, ModelNotFoundError } from "./errors";
import { isChatModel } from "./models";
import { parseBody } from "./parse";
import { sendEventStream } from "./sse";

/** Anthropic's `POST /v1/messages`; every failure leaves in Anthropic's error shape. */
export const anthropicRoutes: FastifyPluginAsync<{ faults: FaultSwitches }> = async (app, { faults }) => {
  app.setErrorHandler((error, request, reply) => {
    const response = anthropicErrorResponse(error);
    if (response.statusCode >= 500 && response.statusCode !== 503) request.log.error({ err: error }, "dev model request failed");
    return reply.code(response.statusCode).headers(response.headers).send(response.body);
  });

  app.post("/v1/messages", async (request, reply) => {
    await faults.admit(presentedKey(request.headers["x-api-key"], request.headers.authorization));
    const body = parseBody(MessagesRequest, request.body);
    if (!isChatModel(body.model)) throw new ModelNotFoundError(body.model);
    const answer = replyTo(conversationFromAnthropic(body.model, body));
    const id = messageId(body.model, body);
    if (body.stream) return sendEventStream(reply, anthropicMessageFrames(id, body.model, answer));
    return anthropicMessage(id, body.model, answer);
  });
};

/** Anthropic reads `x-api-key`; its SDK may send the key as `Authorization: Bearer` instead. */
function presentedKey(xApiKey: string | string[] | undefined, authorization: string | undefined): string | undefined {
  if (typeof xApiKey === "string" && xApiKey.length > 0) return xApiKey;
  const match = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  return match?.[1];
}
