import { z } from "zod";
import { MAX_EMBEDDING_DIMENSIONS } from "./embeddings";
import { MAX_OUTPUT_TOKENS } from "./tokens";

/*
 * The parts of Gemini's `generateContent` and `batchEmbedContents` bodies the dev model reads.
 * Unknown fields (safety settings, thinking config, inline data) are accepted and ignored.
 */

const FunctionCall = z.object({ id: z.string().optional(), name: z.string().min(1), args: z.record(z.string(), z.unknown()).optional() });
const FunctionResponse = z.object({ id: z.string().optional(), name: z.string().min(1), response: z.record(z.string(), z.unknown()) });

/** One part of a content: text, a function call, a function's response, or anything else (ignored). */
export const Part = z.looseObject({
  text: z.string().optional(),
  functionCall: FunctionCall.optional(),
  functionResponse: FunctionResponse.optional(),
  thought: z.boolean().optional(),
});
export type Part = z.infer<typeof Part>;

export const Content = z.object({
  role: z.enum(["user", "model", "function"]).optional(),
  parts: z.array(Part),
});
export type Content = z.infer<typeof Content>;

const FunctionDeclaration = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  // Gemini takes an OpenAPI-flavoured `parameters` or a plain JSON Schema `parametersJsonSchema`.
  parameters: z.record(z.string(), z.unknown()).optional(),
  parametersJsonSchema: z.record(z.string(), z.unknown()).optional(),
});

export const GeminiTool = z.looseObject({ functionDeclarations: z.array(FunctionDeclaration).optional() });

export const FunctionCallingConfig = z.object({
  mode: z.enum(["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"]).optional(),
  allowedFunctionNames: z.array(z.string()).optional(),
});
export type FunctionCallingConfig = z.infer<typeof FunctionCallingConfig>;

export const GenerateContentRequest = z.object({
  contents: z.array(Content).min(1),
  systemInstruction: Content.optional(),
  tools: z.array(GeminiTool).optional(),
  toolConfig: z.object({ functionCallingConfig: FunctionCallingConfig.optional() }).optional(),
  generationConfig: z
    .looseObject({
      temperature: z.number().min(0).max(2).optional(),
      maxOutputTokens: z.int().min(1).max(MAX_OUTPUT_TOKENS).optional(),
    })
    .optional(),
});
export type GenerateContentRequest = z.infer<typeof GenerateContentRequest>;

const EmbedContent = z.object({
  content: z.object({ parts: z.array(z.object({ text: z.string() }).loose()).min(1) }),
  outputDimensionality: z.int().min(1).max(MAX_EMBEDDING_DIMENSIONS).optional(),
  taskType: z.string().optional(),
});

/** `:embedContent`: one text. */
export const EmbedContentRequest = EmbedContent.extend({ model: z.string().optional() });

/** `:batchEmbedContents`: one request per text, each naming the model (`models/<id>`). */
export const BatchEmbedContentsRequest = z.object({
  requests: z.array(EmbedContent.extend({ model: z.string().optional() })).min(1).max(2048),
});
