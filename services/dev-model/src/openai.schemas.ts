import { z } from "zod";
import { MAX_EMBEDDING_DIMENSIONS } from "./embeddings";
import { MAX_OUTPUT_TOKENS } from "./tokens";

/*
 * The parts of OpenAI's request bodies the dev model reads. Unknown fields are
 * accepted and ignored, as OpenAI ignores parameters a model does not use.
 */

const TextPart = z.object({ type: z.literal("text"), text: z.string() });
// Images, audio, files and refusals are accepted; they carry no text.
const OtherPart = z
  .looseObject({ type: z.string().refine((type) => type !== "text", "a text part needs `text`") })
  .transform(() => ({ type: "other" as const }));
const ContentPart = z.union([TextPart, OtherPart]);
const Content = z.union([z.string(), z.array(ContentPart)]);

const ToolCall = z.object({
  id: z.string(),
  type: z.literal("function"),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

export const ChatMessage = z.discriminatedUnion("role", [
  z.object({ role: z.enum(["system", "developer"]), content: Content, name: z.string().optional() }),
  z.object({ role: z.literal("user"), content: Content, name: z.string().optional() }),
  z.object({
    role: z.literal("assistant"),
    content: Content.nullish(),
    tool_calls: z.array(ToolCall).optional(),
    name: z.string().optional(),
  }),
  z.object({ role: z.literal("tool"), content: Content, tool_call_id: z.string() }),
]);
export type ChatMessage = z.infer<typeof ChatMessage>;

export const ChatTool = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

export const ChatToolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
]);

export const ChatCompletionRequest = z.object({
  model: z.string().min(1),
  messages: z.array(ChatMessage).min(1),
  tools: z.array(ChatTool).optional(),
  tool_choice: ChatToolChoice.optional(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.int().min(1).max(MAX_OUTPUT_TOKENS).nullish(),
  max_completion_tokens: z.int().min(1).max(MAX_OUTPUT_TOKENS).nullish(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export const EmbeddingRequest = z.object({
  model: z.string().min(1),
  // OpenAI also takes token-id arrays; the dev model has no vocabulary to map them back to text.
  input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2048)]),
  encoding_format: z.enum(["float", "base64"]).optional(),
  dimensions: z.int().min(1).max(MAX_EMBEDDING_DIMENSIONS).optional(),
  user: z.string().optional(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequest>;
