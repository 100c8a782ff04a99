import { z } from "zod";
import { Agent, SignupResult, Uuid } from "@galaxy/contracts";

const Accepted = z.object({ data: z.object({ id: Uuid, status: z.literal("queued") }) });

/** The agent every benchmark runs: the dev model's echo through the OpenAI client. */
export const BENCH_AGENT = {
  name: "Bench echo",
  provider: "openai",
  model: "galaxy-dev-echo",
  systemPrompt: "Repeat after me.",
} as const;

/** A signed-up integrator of the Galaxy under test, speaking HTTP to its gateway with `fetch`. */
export class GalaxyClient {
  private constructor(
    readonly baseUrl: string,
    readonly token: string,
    readonly workspaceId: string,
  ) {}

  /** Signs up a user with a workspace of their own. */
  static async signUp(baseUrl: string): Promise<GalaxyClient> {
    const body = await call(baseUrl, "POST", "/api/auth/signup", undefined, {
      email: `bench-${Date.now()}@example.com`,
      password: "benchmarks are not tests",
      name: "Bench",
      workspaceName: "Bench",
    }, 201);
    const result = z.object({ data: SignupResult }).parse(body).data;
    return new GalaxyClient(baseUrl, result.accessToken, result.workspace.id);
  }

  get authorization(): string {
    return `Bearer ${this.token}`;
  }

  /** Creates the bench agent and activates it; returns its id. */
  async createActiveAgent(): Promise<string> {
    const created = z.object({ data: Agent }).parse(await call(this.baseUrl, "POST", "/api/agents", this.token, BENCH_AGENT, 201)).data;
    await call(this.baseUrl, "POST", `/api/agents/${created.id}/activate`, this.token, undefined, 200);
    return created.id;
  }

  /** `POST /api/agents/{id}/executions`; resolves with the queued execution's id once the 202 is read. */
  async startExecution(agentId: string, input: unknown): Promise<string> {
    const body = await call(this.baseUrl, "POST", `/api/agents/${agentId}/executions`, this.token, { input }, 202);
    return Accepted.parse(body).data.id;
  }
}

async function call(baseUrl: string, method: string, path: string, token: string | undefined, body: unknown, expected: number): Promise<unknown> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${method} ${path} answered ${response.status} (expected ${expected}): ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : null;
}
