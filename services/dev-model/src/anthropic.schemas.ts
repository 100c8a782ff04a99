import { z } from "zod";
import { MAX_OUTPUT_TOKENS } from "./tokens";

// The parts of Anthropic's Messages request the dev model reads; other fields are accepted and ignored.

const TextBlock = z.object({ type: z.literal("text"), text: z.string() });

// Images, documents, thinking and server-tool blocks are accepted; they carry nothing the dev model reads.
const OtherBlock = z
  .looseObject({
    type: z.string().refine((type) => !["text", "tool_result", "tool_use"].includes(type), "malformed content block"),
  })
  .transform(() => ({ type: "other" as const }));

const ToolResultBlock = z.object({
  type: z.literal("tool_result"),
  tool_use_id: z.string(),
  content: z.union([z.string(), z.array(z.union([TextBlock, OtherBlock]))]).optional(),
  is_error: z.boolean().optional(),
});

const ToolUseBlock = z.object({
  type: z.literal("tool_use"),
  id: z.string(),
  name: z.string(),
  input: z.unknown(),
});

export const ContentBlock = z.union([TextBlock, ToolResultBlock, ToolUseBlock, OtherBlock]);
export type ContentBlock = z.output<typeof ContentBlock>;

export const MessageParam = z.object({
  role: z.enum(["user", "assistant", "system"]),
  content: z.union([z.string(), z.array(ContentBlock)]),
});
export type MessageParam = z.infer<typeof MessageParam>;

export const MessageTool = z.looseObject({
  name: z.string().min(1),
  input_schema: z.record(z.string(), z.unknown()).optional(),
});

export const MessageToolChoice = z.discriminatedUnion("type", [
  z.object({ type: z.literal("auto") }),
  z.object({ type: z.literal("any") }),
  z.object({ type: z.literal("none") }),
  z.object({ type: z.literal("tool"), name: z.string() }),
]);

export const MessagesRequest = z.object({
  model: z.string().min(1),
  max_tokens: z.int().min(1).max(MAX_OUTPUT_TOKENS),
  messages: z.array(MessageParam).min(1),
  system: z.union([z.string(), z.array(TextBlock)]).optional(),
  tools: z.array(MessageTool).optional(),
  tool_choice: MessageToolChoice.optional(),
  stream: z.boolean().optional(),
});
export type MessagesRequest = z.infer<typeof MessagesRequest>;
