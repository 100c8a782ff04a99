import { Galaxy, GalaxyApiError, ok, type Agent, type Execution, type Trigger } from "@galaxy/sdk";
import { CliFailure, CliUsageError, type CliEnv } from "../config";

/** The API client the read commands use: the gateway at `GALAXY_API_URL`, as the key in `GALAXY_API_KEY`. */
export function apiClient(env: CliEnv): Galaxy {
  if (!env.GALAXY_API_KEY) throw new CliUsageError("set GALAXY_API_KEY to an API key (gxk_…) or an access token of the workspace to read");
  return new Galaxy({ baseUrl: env.GALAXY_API_URL, token: env.GALAXY_API_KEY });
}

/** Runs a read; the API's refusals become the CLI's failures (a 400 is bad usage). */
export async function reading<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof GalaxyApiError) {
      if (error.status === 400) throw new CliUsageError(`${error.message} (${error.code})`);
      throw new CliFailure(error.message, error.code, { cause: error });
    }
    if (error instanceof TypeError) throw new CliFailure(`cannot reach the API: ${error.message}`, "api_unreachable", { cause: error });
    throw error;
  }
}

/** The first `limit` items of a list, page after page. */
async function first<T>(items: AsyncIterable<T>, limit: number): Promise<T[]> {
  const taken: T[] = [];
  for await (const item of items) {
    taken.push(item);
    if (taken.length >= limit) break;
  }
  return taken;
}

export interface ListOptions {
  limit: number;
}

export async function listAgents(galaxy: Galaxy, options: ListOptions & { status?: Agent["status"] }): Promise<Agent[]> {
  const status = options.status;
  return first(galaxy.paginate((page) => galaxy.api.GET("/api/agents", { params: { query: { ...page, ...(status ? { status } : {}) } } }), { limit: Math.min(options.limit, 100) }), options.limit);
}

export async function showAgent(galaxy: Galaxy, id: string): Promise<Agent> {
  return (await ok(galaxy.api.GET("/api/agents/{id}", { params: { path: { id } } }))).data;
}

export async function listExecutions(galaxy: Galaxy, options: ListOptions & { status?: Execution["status"]; agentId?: string }): Promise<Execution[]> {
  const { status, agentId } = options;
  const query = { ...(status ? { status } : {}), ...(agentId ? { agentId } : {}) };
  return first(galaxy.paginate((page) => galaxy.api.GET("/api/executions", { params: { query: { ...page, ...query } } }), { limit: Math.min(options.limit, 100) }), options.limit);
}

export async function showExecution(galaxy: Galaxy, id: string): Promise<Execution> {
  return (await ok(galaxy.api.GET("/api/executions/{id}", { params: { path: { id } } }))).data;
}

export async function listTriggers(galaxy: Galaxy, agentId: string, options: ListOptions): Promise<Trigger[]> {
  return first(galaxy.paginate((page) => galaxy.api.GET("/api/agents/{id}/triggers", { params: { path: { id: agentId }, query: page } }), { limit: Math.min(options.limit, 100) }), options.limit);
}

/** One trigger of an agent (the API lists an agent's triggers; there are few). */
export async function showTrigger(galaxy: Galaxy, agentId: string, triggerId: string): Promise<Trigger> {
  for await (const trigger of galaxy.paginate((page) => galaxy.api.GET("/api/agents/{id}/triggers", { params: { path: { id: agentId }, query: page } }))) {
    if (trigger.id === triggerId) return trigger;
  }
  throw new CliFailure(`No trigger ${triggerId} on agent ${agentId}`, "trigger_not_found");
}

const row = (cells: Array<string | number | null | undefined>) => cells.map((cell) => String(cell ?? "-")).join("  ");

export function describeAgents(agents: Agent[]): string {
  if (agents.length === 0) return "No agents.";
  return agents.map((a) => row([a.id, a.status.padEnd(6), `v${a.version}`, `${a.provider}/${a.model}`, a.name])).join("\n");
}

export function describeAgent(agent: Agent): string {
  return [
    `${agent.name} (${agent.id})`,
    `  status ${agent.status}, version ${agent.version}, ${agent.provider}/${agent.model}`,
    `  created ${agent.createdAt}, updated ${agent.updatedAt}`,
  ].join("\n");
}

export function describeExecutions(executions: Execution[]): string {
  if (executions.length === 0) return "No executions.";
  return executions.map((e) => row([e.id, e.status.padEnd(9), e.trigger.type.padEnd(8), e.createdAt, `agent ${e.agentId}`])).join("\n");
}

export function describeExecution(execution: Execution): string {
  const lines = [
    `execution ${execution.id}: ${execution.status}`,
    `  agent ${execution.agentId} v${execution.agentVersion}, trigger ${execution.trigger.type}`,
    `  created ${execution.createdAt}${execution.completedAt ? `, ended ${execution.completedAt}` : ""}`,
    `  tokens ${execution.usage.totalTokens} (${execution.usage.inputTokens} in, ${execution.usage.outputTokens} out)`,
  ];
  if (execution.output) lines.push(`  output ${JSON.stringify(execution.output).slice(0, 500)}`);
  if (execution.error) lines.push(`  error ${execution.error.code}: ${execution.error.message}`);
  return lines.join("\n");
}

export function describeTriggers(triggers: Trigger[]): string {
  if (triggers.length === 0) return "No triggers.";
  return triggers.map(describeTrigger).join("\n");
}

export function describeTrigger(trigger: Trigger): string {
  return trigger.type === "schedule" ? row([trigger.id, "schedule", trigger.cron, trigger.timezone]) : row([trigger.id, "webhook ", trigger.url]);
}
