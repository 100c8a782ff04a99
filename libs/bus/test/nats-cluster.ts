import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { freePort } from "@galaxy/testkit";

const NATS_SERVER = "/usr/sbin/nats-server";

/** A JetStream cluster of three `nats-server` processes on loopback, of a test's own. */
export interface NatsCluster {
  /** Every node's client URL, comma-separated, as `NATS_URL` takes them. */
  url: string;
  stop(): Promise<void>;
}

/** Starts three nodes routed to each other and resolves once JetStream can place a stream on all three. */
export async function startNatsCluster(): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), "galaxy-nats-cluster-"));
  const nodes = await Promise.all([0, 1, 2].map(async (i) => ({ name: `n${i}`, client: await freePort(), route: await freePort() })));
  const children: ChildProcess[] = nodes.map((node) => {
    const routes = nodes.filter((other) => other !== node).map((other) => `nats://127.0.0.1:${other.route}`).join(",");
    const args = ["-a", "127.0.0.1", "-p", String(node.client), "-n", node.name, "-js", "-sd", join(dir, node.name), "--cluster_name", "galaxy-test", "-cluster", `nats://127.0.0.1:${node.route}`, "-routes", routes];
    return spawn(NATS_SERVER, args, { stdio: "ignore" });
  });
  const url = nodes.map((node) => `nats://127.0.0.1:${node.client}`).join(",");
  const stop = async () => {
    await Promise.all(
      children.map((child) => {
        if (child.exitCode !== null) return Promise.resolve();
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        return exited;
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await untilStreamsPlace(url, 3);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

/**
 * Resolves once the cluster at `url` (client URLs, comma-separated) can place a stream of
 * `replicas` copies: a probe stream in memory, created and deleted. A JetStream metadata leader
 * alone is not enough: while a node has not joined yet, such a stream fails with "no suitable
 * peers for placement". Gives up after 20 s.
 */
export async function untilStreamsPlace(url: string, replicas: number): Promise<void> {
  const probe = { name: "GALAXY_CLUSTER_READY", subjects: ["galaxy.cluster.ready"], num_replicas: replicas, storage: StorageType.Memory };
  const deadline = Date.now() + 20_000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const nc = await connect({ servers: url.split(","), timeout: 1_000 });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.streams.add(probe);
        await jsm.streams.delete(probe.name);
        return;
      } finally {
        await nc.close();
      }
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`the NATS cluster could not place a stream of ${replicas} replicas: ${String(last)}`);
}
