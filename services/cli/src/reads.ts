import { Option, type Command } from "commander";
import {
  apiClient, describeAgent, describeAgents, describeExecution, describeExecutions, describeTrigger, describeTriggers, listAgents, listExecutions, listTriggers,
  reading, showAgent, showExecution, showTrigger,
} from "./commands/reads";
import { parseCliEnv } from "./config";
import type { Galaxy } from "@galaxy/sdk";

/** How a read prints: `--json` as `{data}`, people's lines otherwise. */
export type PrintRead = <T>(read: (galaxy: Galaxy) => Promise<T>, describe: (result: T) => string) => () => Promise<void>;

const AGENT_STATUSES = ["draft", "active", "paused"] as const;
const EXECUTION_STATUSES = ["queued", "running", "completed", "failed", "cancelled", "timed_out"] as const;

function limitOption(): Option {
  return new Option("--limit <n>", "at most this many, newest first (paged by cursor)").argParser((value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new Error("--limit must be a whole number from 1 to 10000");
    return n;
  }).default(20);
}

/**
 * `galaxy agents|executions|triggers list|show`: an operator's quick look at one workspace,
 * through the API with `GALAXY_API_KEY` (an API key or access token) at `GALAXY_API_URL`.
 */
export function registerReads(program: Command, executions: Command, print: PrintRead): void {
  const agents = program.command("agents").description("a workspace's agents, through the API (GALAXY_API_URL, GALAXY_API_KEY)");
  agents
    .command("list")
    .description("the workspace's agents")
    .addOption(limitOption())
    .addOption(new Option("--status <status>", "only agents in this state").choices(AGENT_STATUSES))
    .action(async (options: { limit: number; status?: (typeof AGENT_STATUSES)[number] }) => print((galaxy) => listAgents(galaxy, options), describeAgents)());
  agents
    .command("show")
    .description("one agent")
    .argument("<id>", "the agent's id")
    .action(async (id: string) => print((galaxy) => showAgent(galaxy, id), describeAgent)());

  executions
    .command("list")
    .description("a workspace's executions, newest first, through the API")
    .addOption(limitOption())
    .addOption(new Option("--status <status>", "only executions in this state").choices(EXECUTION_STATUSES))
    .option("--agent <id>", "only this agent's")
    .action(async (options: { limit: number; status?: (typeof EXECUTION_STATUSES)[number]; agent?: string }) =>
      print((galaxy) => listExecutions(galaxy, { limit: options.limit, status: options.status, agentId: options.agent }), describeExecutions)(),
    );
  executions
    .command("show")
    .description("one execution, with its output or error and its token usage, through the API")
    .argument("<id>", "the execution's id")
    .action(async (id: string) => print((galaxy) => showExecution(galaxy, id), describeExecution)());

  const triggers = program.command("triggers").description("an agent's webhook and schedule triggers, through the API");
  triggers
    .command("list")
    .description("an agent's triggers (never their secrets)")
    .argument("<agentId>", "the agent's id")
    .addOption(limitOption())
    .action(async (agentId: string, options: { limit: number }) => print((galaxy) => listTriggers(galaxy, agentId, options), describeTriggers)());
  triggers
    .command("show")
    .description("one trigger of an agent")
    .argument("<agentId>", "the agent's id")
    .argument("<triggerId>", "the trigger's id")
    .action(async (agentId: string, triggerId: string) => print((galaxy) => showTrigger(galaxy, agentId, triggerId), describeTrigger)());
}

/** The `print` of `registerReads`: reads with the environment's client and prints the answer. */
export function printRead(env: NodeJS.ProcessEnv, json: () => boolean, out: (text: string) => void, done: () => void): PrintRead {
  return (read, describe) => async () => {
    const galaxy = apiClient(parseCliEnv(env));
    const result = await reading(() => read(galaxy));
    out(json() ? JSON.stringify({ data: result }, null, 2) : describe(result));
    done();
  };
}
