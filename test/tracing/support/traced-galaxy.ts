import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectTestBus, createTestEnv, freePort, programEnv, type EngineUrls, type TestEnv } from "@galaxy/testkit";
import { startDevModel, type RunningDevModel } from "@galaxy/dev-model/testing";
import { buildAll, ROOT } from "../../../scripts/build/bundle";
import { compiledProgramArgs, PROGRAM_ENV } from "../../../scripts/program-args";
import { Child, waitFor } from "../../fault/support/child";

/** The services, in the order they start: identity first (the others verify its claims). */
const SERVICES = ["identity", "agent-registry", "execution-worker", "audit", "gateway"] as const;
type Service = (typeof SERVICES)[number];

const PORT_VARIABLE: Record<Service, string> = {
  identity: "IDENTITY_PORT",
  "agent-registry": "AGENT_REGISTRY_PORT",
  "execution-worker": "EXECUTION_WORKER_PORT",
  audit: "AUDIT_PORT",
  gateway: "GATEWAY_PORT",
};

/** Galaxy's compiled services as separate processes, each exporting its spans to `otlpUrl`. */
export interface TracedGalaxy {
  env: TestEnv;
  gatewayUrl: string;
  tails(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Builds the programs as `make build` does (into a directory of this run's own) and runs each
 * service as production does (`compiledProgramArgs`: `--import <outdir>/telemetry.js`), so
 * each has its own `service.name` and its instrumentations patch the packages it loads.
 */
export async function startTracedGalaxy(engines: EngineUrls, otlpUrl: string): Promise<TracedGalaxy> {
  const outdir = await mkdtemp(join(tmpdir(), "galaxy-traced-"));
  const logDir = await mkdtemp(join(tmpdir(), "galaxy-traced-logs-"));
  await buildAll({ outdir });
  const env = await createTestEnv(engines);
  const setup = await connectTestBus(env, "setup");
  await setup.close();
  const devModel: RunningDevModel = await startDevModel();
  const children = new Map<Service, { child: Child; port: number }>();
  const shared: NodeJS.ProcessEnv = {
    ...PROGRAM_ENV,
    ...programEnv(env),
    LOG_FORMAT: "json",
    SCRYPT_COST: "12",
    OPENAI_API_KEY: "galaxy-dev",
    OPENAI_BASE_URL: `${devModel.url}/v1`,
    // Completion callbacks go to the test's receiver on loopback.
    OUTBOUND_HOST_ALLOWLIST: "127.0.0.1",
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "100",
    OTEL_TRACES_SAMPLER: "always_on",
    OTEL_METRICS_EXPORTER: "none",
    OTEL_LOGS_EXPORTER: "none",
  };
  const start = async (service: Service): Promise<void> => {
    const port = await freePort();
    const extra = service === "gateway" ? { GATEWAY_OPS_PORT: String(await freePort()) } : {};
    const args = compiledProgramArgs(outdir, service);
    const child = new Child(service, process.execPath, args, join(logDir, `${service}.log`), { cwd: ROOT, env: { ...shared, ...extra, [PORT_VARIABLE[service]]: String(port) } });
    children.set(service, { child, port });
    await waitFor(
      `${service} to be ready`,
      async () => {
        if (!child.running) throw new Error(`${service} exited:\n${await child.tail()}`);
        const ok = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok).catch(() => false);
        return ok ? true : undefined;
      },
      90_000,
      200,
    );
  };
  const tails = async () => {
    const parts: string[] = [];
    for (const [name, { child }] of children) parts.push(`=== ${name}\n${await child.tail(20)}`);
    return parts.join("\n");
  };
  const stop = async () => {
    for (const service of [...SERVICES].reverse()) await children.get(service)?.child.stop("SIGTERM", 20_000);
    await devModel.close();
    await env.cleanup();
    await rm(outdir, { recursive: true, force: true });
    await rm(logDir, { recursive: true, force: true });
  };
  try {
    await start("identity");
    await Promise.all(SERVICES.filter((s) => s !== "identity" && s !== "gateway").map(start));
    await start("gateway");
  } catch (error) {
    const logs = await tails();
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`, { cause: error });
  }
  const gateway = children.get("gateway");
  return { env, gatewayUrl: `http://127.0.0.1:${gateway?.port ?? 0}`, tails, stop };
}
