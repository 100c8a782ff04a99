import { ApiError } from "../../api/client";
import type { Agent, AgentConfig, AgentTool, BuiltinTool, Provider } from "../../api/types";

/** The agent form's state: text as typed, turned into an API body on submit. */
export interface AgentFormState {
  name: string;
  description: string;
  provider: Provider;
  model: string;
  systemPrompt: string;
  temperature: string;
  maxTokens: string;
  timeoutMs: string;
  notifyUrl: string;
  builtinTools: BuiltinTool[];
  webhookTools: string;
  knowledgeBaseIds: string[];
  inputSchema: string;
  outputSchema: string;
}

export const EMPTY_AGENT_FORM: AgentFormState = {
  name: "",
  description: "",
  provider: "openai",
  model: "galaxy-dev-echo",
  systemPrompt: "",
  temperature: "",
  maxTokens: "",
  timeoutMs: "",
  notifyUrl: "",
  builtinTools: [],
  webhookTools: "",
  knowledgeBaseIds: [],
  inputSchema: "",
  outputSchema: "",
};

const pretty = (value: unknown) => (value === null || value === undefined ? "" : JSON.stringify(value, null, 2));

export function formFromAgent(agent: AgentConfig): AgentFormState {
  const builtin = agent.tools.filter((t): t is Extract<AgentTool, { type: "builtin" }> => t.type === "builtin").map((t) => t.name);
  const webhooks = agent.tools.filter((t) => t.type === "webhook");
  return {
    name: agent.name,
    description: agent.description ?? "",
    provider: agent.provider,
    model: agent.model,
    systemPrompt: agent.systemPrompt,
    temperature: agent.temperature === null ? "" : String(agent.temperature),
    maxTokens: agent.maxTokens === null ? "" : String(agent.maxTokens),
    timeoutMs: agent.timeoutMs === null ? "" : String(agent.timeoutMs),
    notifyUrl: agent.notifyUrl ?? "",
    builtinTools: builtin,
    webhookTools: webhooks.length ? pretty(webhooks) : "",
    knowledgeBaseIds: agent.knowledgeBaseIds,
    inputSchema: pretty(agent.inputSchema),
    outputSchema: pretty(agent.outputSchema),
  };
}

function parseJson(text: string, field: string, problems: Record<string, string>): unknown {
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    problems[field] = "is not valid JSON";
    return null;
  }
}

const numberOrNull = (text: string) => (text.trim() === "" ? null : Number(text));

/**
 * The body for `POST /api/agents` or `PATCH /api/agents/{id}`. Only JSON that does not parse is
 * caught here (thrown as the API would word it); every other rule is the API's to tell.
 */
export function bodyFromForm(form: AgentFormState, existing: Agent | undefined): Record<string, unknown> {
  const problems: Record<string, string> = {};
  const webhookTools = parseJson(form.webhookTools, "tools", problems);
  const inputSchema = parseJson(form.inputSchema, "inputSchema", problems);
  const outputSchema = parseJson(form.outputSchema, "outputSchema", problems);
  if (webhookTools !== null && !Array.isArray(webhookTools)) problems.tools = "must be a JSON array of webhook tools";
  if (Object.keys(problems).length > 0) throw new ApiError(400, "validation_failed", "Fix the fields marked below", problems);
  const tools = [...form.builtinTools.map((name) => ({ type: "builtin", name })), ...((webhookTools as unknown[] | null) ?? [])];
  const body: Record<string, unknown> = {
    name: form.name,
    description: form.description || null,
    provider: form.provider,
    model: form.model,
    systemPrompt: form.systemPrompt,
    temperature: numberOrNull(form.temperature),
    maxTokens: numberOrNull(form.maxTokens),
    timeoutMs: numberOrNull(form.timeoutMs),
    notifyUrl: form.notifyUrl.trim() || null,
    tools,
    knowledgeBaseIds: form.knowledgeBaseIds,
    inputSchema,
    outputSchema,
  };
  if (!existing) {
    // Creating, the optional parts are left out rather than sent as null.
    for (const [key, value] of Object.entries(body)) if (value === null) delete body[key];
    return body;
  }
  // Editing, only what changed is sent: an unchanged `notifyUrl` keeps its secret.
  const current = existing as unknown as Record<string, unknown>;
  for (const key of Object.keys(body)) if (JSON.stringify(body[key]) === JSON.stringify(current[key])) delete body[key];
  return body;
}
