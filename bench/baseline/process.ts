import { join } from "node:path";
import { freePort } from "@galaxy/testkit";
import { Child, waitFor } from "../../test/fault/support/child";
import { ROOT } from "../../test/fault/support/services";

export interface BaselineSettings {
  databaseUrl: string;
  natsUrl: string;
  redisUrl: string;
  prefix: string;
  workspaceId: string;
  modelUrl: string;
  secret: string;
  pool: number;
  bullConcurrency: number;
  bullPrefix: string;
}

export interface BaselineProcess {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Starts bench/baseline/server.ts as a process of its own and waits until it answers. */
export async function startBaselineProcess(settings: BaselineSettings, logDir: string): Promise<BaselineProcess> {
  const port = await freePort();
  const child = new Child("baseline", process.execPath, ["--import", "tsx", join(ROOT, "bench/baseline/server.ts")], join(logDir, "baseline.log"), {
    cwd: ROOT,
    env: {
      ...process.env,
      BENCH_BASE_PORT: String(port),
      BENCH_BASE_DB: settings.databaseUrl,
      BENCH_BASE_POOL: String(settings.pool),
      BENCH_BASE_PREFIX: settings.prefix,
      BENCH_BASE_WORKSPACE: settings.workspaceId,
      BENCH_BASE_MODEL_URL: settings.modelUrl,
      BENCH_BASE_SECRET: settings.secret,
      BENCH_BASE_BULL_CONCURRENCY: String(settings.bullConcurrency),
      BENCH_BASE_BULL_PREFIX: settings.bullPrefix,
      NATS_URL: settings.natsUrl,
      REDIS_URL: settings.redisUrl,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    "the baseline process to answer",
    async () => {
      if (!child.running) throw new Error(`the baseline process exited:\n${await child.tail()}`);
      return (await fetch(`${url}/health`).then((r) => r.ok).catch(() => false)) ? true : undefined;
    },
    60_000,
    200,
  );
  return { url, pid: child.process.pid, stop: () => child.stop("SIGTERM", 5_000) };
}
