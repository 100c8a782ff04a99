import type { Attributes } from "@opentelemetry/api";

/**
 * Attributes of a model call span, after OpenTelemetry's GenAI semantic conventions (span
 * name `chat <model>`): which provider and model were asked, which model answered, and the
 * tokens it counted.
 */
export function modelCallAttributes(call: { provider: string; requestModel: string; responseModel?: string | undefined; inputTokens?: number | undefined; outputTokens?: number | undefined }): Attributes {
  return {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": call.provider,
    "gen_ai.system": call.provider,
    "gen_ai.request.model": call.requestModel,
    ...(call.responseModel !== undefined ? { "gen_ai.response.model": call.responseModel } : {}),
    ...(call.inputTokens !== undefined ? { "gen_ai.usage.input_tokens": call.inputTokens } : {}),
    ...(call.outputTokens !== undefined ? { "gen_ai.usage.output_tokens": call.outputTokens } : {}),
  };
}

/** Attributes of a tool call span (`execute_tool <name>`). */
export function toolCallAttributes(tool: { name: string; callId?: string | undefined }): Attributes {
  return {
    "gen_ai.operation.name": "execute_tool",
    "gen_ai.tool.name": tool.name,
    ...(tool.callId !== undefined ? { "gen_ai.tool.call.id": tool.callId } : {}),
  };
}
