import { z } from "zod";
import { withoutUserinfo } from "./credentials";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";

/** A JSON Schema document; its validity as a schema is checked by the registry when saved. */
export const JsonSchemaDoc = z.record(z.string(), z.unknown());
export type JsonSchemaDoc = z.infer<typeof JsonSchemaDoc>;

/** Where Galaxy calls out to (a webhook tool, a completion callback): http(s), never with a user name or password in it. */
const HttpUrl = z.url({ protocol: /^https?$/ }).refine(withoutUserinfo, "must not carry a user name or password");

export const BUILTIN_TOOLS = ["current_time", "calculator", "knowledge_search"] as const;

export const AgentTool = z.discriminatedUnion("type", [
  z.object({ type: z.literal("builtin"), name: z.enum(BUILTIN_TOOLS) }).strict(),
  z
    .object({
      type: z.literal("webhook"),
      name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "letters, digits, _ and -, at most 64"),
      description: z.string().max(1024),
      parameters: JsonSchemaDoc,
      url: HttpUrl,
    })
    .strict(),
]);
export type AgentTool = z.infer<typeof AgentTool>;

export const Provider = z.enum(["openai", "anthropic", "google"]);
export type Provider = z.infer<typeof Provider>;

export const AgentStatus = z.enum(["draft", "active", "paused"]);
export type AgentStatus = z.infer<typeof AgentStatus>;

/** What a version of an agent pins: everything an execution needs to run. */
export const AgentConfig = z.object({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).nullable(),
  provider: Provider,
  model: z.string().min(1).max(200),
  systemPrompt: z.string().max(100_000),
  temperature: z.number().min(0).max(2).nullable(),
  maxTokens: z.number().int().min(1).max(200_000).nullable(),
  tools: z.array(AgentTool).max(64),
  knowledgeBaseIds: z.array(Uuid).max(32),
  inputSchema: JsonSchemaDoc.nullable(),
  outputSchema: JsonSchemaDoc.nullable(),
  timeoutMs: z.number().int().min(1_000).max(3_600_000).nullable(),
  notifyUrl: HttpUrl.nullable(),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

/** The body of `POST /api/agents`: the config with its optional parts optional. */
// Every constraint is AgentConfig's: the bodies only say which parts may be left out.
export const CreateAgentBody = z
  .object({
    name: AgentConfig.shape.name,
    description: AgentConfig.shape.description.unwrap().optional(),
    provider: AgentConfig.shape.provider,
    model: AgentConfig.shape.model,
    systemPrompt: AgentConfig.shape.systemPrompt,
    temperature: AgentConfig.shape.temperature.unwrap().optional(),
    maxTokens: AgentConfig.shape.maxTokens.unwrap().optional(),
    tools: AgentConfig.shape.tools.optional(),
    knowledgeBaseIds: AgentConfig.shape.knowledgeBaseIds.optional(),
    inputSchema: AgentConfig.shape.inputSchema.unwrap().optional(),
    outputSchema: AgentConfig.shape.outputSchema.unwrap().optional(),
    timeoutMs: AgentConfig.shape.timeoutMs.unwrap().optional(),
    notifyUrl: AgentConfig.shape.notifyUrl.unwrap().optional(),
  })
  .strict();
export type CreateAgentBody = z.infer<typeof CreateAgentBody>;

export function agentConfigFromBody(body: CreateAgentBody): AgentConfig {
  return {
    name: body.name,
    description: body.description ?? null,
    provider: body.provider,
    model: body.model,
    systemPrompt: body.systemPrompt,
    temperature: body.temperature ?? null,
    maxTokens: body.maxTokens ?? null,
    tools: body.tools ?? [],
    knowledgeBaseIds: body.knowledgeBaseIds ?? [],
    inputSchema: body.inputSchema ?? null,
    outputSchema: body.outputSchema ?? null,
    timeoutMs: body.timeoutMs ?? null,
    notifyUrl: body.notifyUrl ?? null,
  };
}

export const Agent = AgentConfig.extend({
  id: Uuid,
  workspaceId: WorkspaceId,
  status: AgentStatus,
  version: z.number().int().min(1),
  createdBy: z.string(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type Agent = z.infer<typeof Agent>;

export const AgentListQuery = z.object({ status: AgentStatus.optional() });
export type AgentListQuery = z.infer<typeof AgentListQuery>;
