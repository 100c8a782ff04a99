import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { expect, inject, test as base } from "vitest";
import { Redis } from "ioredis";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Bus } from "@galaxy/bus";
import { Agent, Execution, SignupResult } from "@galaxy/contracts";
import { inWorkspace, sql, type Kysely } from "@galaxy/db";
import { createMetrics } from "@galaxy/observability";
import { deleteRedisKeys, freePort, serviceDb, testLogger } from "@galaxy/testkit";
import type { ExecutionDb } from "@galaxy/execution-worker";
import { buildGateway, type GatewayDb } from "@galaxy/gateway";
import { api, dataOf, eventually, startGalaxy, type Galaxy } from "../e2e/harness";
import { startClusterFromConfig, type ClusterFromConfig } from "./nats-cluster-config";

/**
 * Galaxy on a three-node JetStream cluster (infra/nats/cluster/node.conf), its streams with 3
 * replicas, two gateways and two workers; one NATS node killed mid-load. Every execution a
 * gateway accepted (202) ends completed, with one terminal event (docs/operations.md, "A NATS
 * cluster").
 */

const WORKER = resolve(import.meta.dirname, "../../services/execution-worker/src/main.ts");
const TOTAL = 30;

/**
 * Each set up once per file, before its test, and cleaned up after it:
 * - `cluster`: three NATS nodes, each from infra/nats/cluster/node.conf;
 * - `galaxy`: a Galaxy on it (../e2e/harness.ts), its streams provisioned again with 3 replicas;
 * - `secondGatewayUrl`: a second gateway, in-process, on a bus connection of its own;
 * - `secondWorker`: a second execution worker, a process of its own, ready.
 */
const test = base
  .extend("cluster", { scope: "file" }, async ({}, { onCleanup }): Promise<ClusterFromConfig> => {
    const cluster = await startClusterFromConfig();
    onCleanup(() => cluster.stop());
    return cluster;
  })
  .extend("galaxy", { scope: "file" }, async ({ cluster }, { onCleanup }): Promise<Galaxy> => {
    const galaxy = await startGalaxy({ ...inject("engines"), natsUrl: cluster.url });
    onCleanup(async () => {
      try {
        await galaxy.stop();
      } catch {
        // The environment's clean-up drops the database, then the streams over one connection to a
        // node picked from NATS_URL: the killed one refuses it. The streams go with the cluster's
        // directory; the Redis keys are removed here.
        await deleteRedisKeys(galaxy.env.redisUrl, galaxy.env.redisPrefix);
      }
    });
    // The harness provisioned with one replica; production's setup asks for 3 and provisioning only ever adds.
    const setup = await Bus.connect({ url: cluster.url, prefix: galaxy.env.busPrefix, service: "setup", logger: testLogger("setup"), streams: { replicas: 3, storage: "file" } });
    await setup.provision();
    await setup.close();
    return galaxy;
  })
  .extend("secondGatewayUrl", { scope: "file" }, async ({ cluster, galaxy }, { onCleanup }): Promise<string> => {
    // Connected, not provisioned again: the streams are being copied to their new replicas.
    const bus = await Bus.connect({ url: cluster.url, prefix: galaxy.env.busPrefix, service: "gateway", logger: testLogger("gateway-2"), requestTimeoutMs: 5_000 });
    const db = serviceDb<GatewayDb>(galaxy.env, "gateway");
    const redis = new Redis(galaxy.env.redisUrl, { keyPrefix: galaxy.env.redisPrefix });
    const secondGateway = await buildGateway({ bus, db, redis, logger: testLogger("gateway-2"), metrics: createMetrics("gateway") });
    onCleanup(async () => {
      await secondGateway.close();
      await bus.close();
      redis.disconnect();
      await db.destroy();
    });
    await secondGateway.listen({ port: 0, host: "127.0.0.1" });
    const address = secondGateway.server.address();
    return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  })
  .extend("secondWorker", { scope: "file" }, async ({ cluster, galaxy }, { onCleanup }): Promise<ChildProcess> => {
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", WORKER], {
      env: { ...process.env, DATABASE_URL: galaxy.env.databaseUrl, NATS_URL: cluster.url, GALAXY_BUS_PREFIX: galaxy.env.busPrefix, EXECUTION_WORKER_PORT: String(port), OPENAI_API_KEY: "galaxy-dev", OPENAI_BASE_URL: `${galaxy.devModel.url}/v1`, LOG_LEVEL: "warn" },
      stdio: "ignore",
    });
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    };
    onCleanup(stop);
    try {
      await eventually(async () => ((await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status === 200).catch(() => false)) ? true : undefined), 30_000, "the second worker to be ready");
    } catch (error) {
      stop();
      throw error;
    }
    return child;
  });
// The second worker takes executions though no test names it.
test.beforeAll(async ({ secondGatewayUrl, secondWorker }) => {
  void secondGatewayUrl;
  void secondWorker;
}, 90_000);

test("a NATS node killed mid-load: every accepted execution completes exactly once", async ({ cluster, galaxy, secondGatewayUrl }) => {
  const nc = await connect({ servers: cluster.url.split(",") });
  const streams = await (await jetstreamManager(nc)).streams.info(`${galaxy.env.busPrefix.toUpperCase()}_EVENTS`);
  expect(streams.config.num_replicas).toBe(3);
  await nc.close();

  const signup = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: `${randomUUID()}@cluster.example`, password: "correct horse battery", name: "Cluster", workspaceName: "Cluster" } }));
  const token = signup.accessToken;
  const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Clustered", systemPrompt: "", provider: "openai", model: "galaxy-dev-echo" } }));
  expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token })).status).toBe(200);
  await galaxy.devModel.control({ latencyMs: 100 });

  const accepted: string[] = [];
  const gateways = [galaxy.url, secondGatewayUrl];
  for (let i = 0; i < TOTAL; i++) {
    if (i === TOTAL / 3) await cluster.kill(0);
    const response = await fetch(`${gateways[i % 2]}/api/agents/${agent.id}/executions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ input: { message: `n${i}` } }) });
    const body: unknown = await response.json();
    if (response.status === 202) accepted.push(Execution.parse((body as { data: unknown }).data).id);
    else expect(response.status, JSON.stringify(body)).toBe(503);
  }
  // The cluster keeps taking events with a node down: most starts are accepted.
  expect(accepted.length).toBeGreaterThan(TOTAL / 2);

  const db: Kysely<ExecutionDb> = serviceDb<ExecutionDb>(galaxy.env, "execution-worker");
  try {
    const ws = signup.workspace.id;
    const ended = async () => (await inWorkspace(db, ws, (tx) => sql<{ n: number }>`select count(*)::int as n from executions where status not in ('queued', 'running')`.execute(tx))).rows[0]?.n ?? 0;
    await eventually(async () => ((await ended()) >= accepted.length ? true : undefined), 60_000, "every accepted execution to end");
    const rows = await inWorkspace(db, ws, (tx) => tx.selectFrom("executions").select(["id", "status"]).execute());
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(accepted));
    expect(rows.filter((r) => r.status !== "completed")).toEqual([]);
    const terminal = await inWorkspace(db, ws, (tx) =>
      sql<{ execution_id: string; n: number }>`select execution_id, count(*)::int as n from execution_events where type in ('execution.completed', 'execution.failed', 'execution.cancelled') group by execution_id`.execute(tx),
    );
    expect(terminal.rows).toHaveLength(accepted.length);
    expect(terminal.rows.filter((r) => r.n !== 1)).toEqual([]);
  } finally {
    await db.destroy();
  }
}, 120_000);
