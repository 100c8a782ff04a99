import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort } from "@galaxy/testkit";

const NATS_SERVER = "/usr/sbin/nats-server";

/** A JetStream cluster of three `nats-server` processes on loopback, of a test's own. */
export interface NatsCluster {
  /** Every node's client URL, comma-separated, as `NATS_URL` takes them. */
  url: string;
  stop(): Promise<void>;
}

/** Starts three nodes routed to each other and resolves once JetStream has a metadata leader. */
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
    await untilJetStreamAnswers(url);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

async function untilJetStreamAnswers(url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const nc = await connect({ servers: url.split(","), timeout: 1_000 });
      try {
        await (await jetstreamManager(nc, { timeout: 1_000 })).getAccountInfo();
        return;
      } finally {
        await nc.close();
      }
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`the NATS cluster did not elect a JetStream leader: ${String(last)}`);
}
