import type { Conversation, Reply, ToolChoice } from "./chat";
import type { Content, FunctionCallingConfig, GenerateContentRequest } from "./gemini.schemas";
import type { ChatModelId } from "./models";
import { sseFrame } from "./sse";
import { splitIntoPieces } from "./tokens";

/** Reduces a Gemini `generateContent` request to the conversation the dev models read. */
export function conversationFromGemini(model: ChatModelId, request: GenerateContentRequest): Conversation {
  const texts: string[] = [];
  const toolResults: string[] = [];
  let lastUserText = "";
  if (request.systemInstruction) texts.push(partsText(request.systemInstruction));
  for (const content of request.contents) {
    const text = partsText(content);
    texts.push(text);
    if (content.role !== "model" && content.parts.some((part) => part.text !== undefined && part.thought !== true)) lastUserText = text;
    for (const part of content.parts) {
      if (part.functionCall) texts.push(part.functionCall.name, JSON.stringify(part.functionCall.args ?? {}));
      if (part.functionResponse) {
        const result = responseText(part.functionResponse.response);
        texts.push(result);
        toolResults.push(result);
      }
    }
  }
  return {
    model,
    texts,
    lastUserText,
    toolResults,
    tools: (request.tools ?? []).flatMap((tool) => tool.functionDeclarations ?? []).map((declaration) => ({ name: declaration.name, parameters: declaration.parametersJsonSchema ?? declaration.parameters })),
    toolChoice: toolChoice(request.toolConfig?.functionCallingConfig),
    maxTokens: request.generationConfig?.maxOutputTokens ?? null,
  };
}

function partsText(content: Content): string {
  return content.parts.flatMap((part) => (part.text !== undefined && part.thought !== true ? [part.text] : [])).join("\n");
}

/** Gemini's convention is `{output}` or `{error}`; anything else is read as its JSON. */
function responseText(response: Record<string, unknown>): string {
  if (typeof response.output === "string") return response.output;
  if (typeof response.error === "string") return response.error;
  return JSON.stringify(response);
}

function toolChoice(config: FunctionCallingConfig | undefined): ToolChoice {
  const mode = config?.mode;
  switch (mode) {
    case undefined:
    case "MODE_UNSPECIFIED":
    case "AUTO":
    case "VALIDATED":
      return { kind: "auto" };
    case "NONE":
      return { kind: "none" };
    case "ANY": {
      const [only, ...others] = config?.allowedFunctionNames ?? [];
      return only !== undefined && others.length === 0 ? { kind: "named", name: only } : { kind: "required" };
    }
    default: {
      const _exhaustive: never = mode;
      return _exhaustive;
    }
  }
}

function finishReason(reply: Reply): "STOP" | "MAX_TOKENS" {
  return reply.kind === "text" && reply.truncated ? "MAX_TOKENS" : "STOP";
}

function usageMetadata(reply: Reply) {
  const { promptTokens, completionTokens } = reply.usage;
  return { promptTokenCount: promptTokens, candidatesTokenCount: completionTokens, totalTokenCount: promptTokens + completionTokens };
}

function callPart(reply: Extract<Reply, { kind: "tool_call" }>) {
  return { functionCall: { id: `call_${reply.callKey}`, name: reply.name, args: reply.arguments } };
}

/** What Gemini answers when not streaming: one candidate, its usage, the model's version. */
export function geminiResponse(responseId: string, model: string, reply: Reply) {
  return {
    candidates: [{ content: { role: "model", parts: [reply.kind === "text" ? { text: reply.text } : callPart(reply)] }, finishReason: finishReason(reply), index: 0 }],
    usageMetadata: usageMetadata(reply),
    modelVersion: model,
    responseId,
  };
}

/**
 * The SSE frames of `streamGenerateContent?alt=sse`, as Gemini sends them: one response per
 * token of text, each a candidate holding that piece; the last also carries the finish
 * reason and the usage. A function call is never split: it comes whole, in one response.
 */
export function geminiStreamFrames(responseId: string, model: string, reply: Reply): string[] {
  const chunk = (parts: unknown[], last: boolean) =>
    sseFrame({
      candidates: [{ content: { role: "model", parts }, ...(last ? { finishReason: finishReason(reply) } : {}), index: 0 }],
      ...(last ? { usageMetadata: usageMetadata(reply) } : {}),
      modelVersion: model,
      responseId,
    });
  if (reply.kind === "tool_call") return [chunk([callPart(reply)], true)];
  const pieces = splitIntoPieces(reply.text);
  if (pieces.length === 0) return [chunk([{ text: "" }], true)];
  return pieces.map((piece, index) => chunk([{ text: piece }], index === pieces.length - 1));
}
