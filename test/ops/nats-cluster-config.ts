import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { untilStreamsPlace } from "@galaxy/bus/testing";
import { freePort } from "@galaxy/testkit";

const NODE_CONF = new URL("../../infra/nats/cluster/node.conf", import.meta.url);

/** infra/nats/cluster/node.conf run as three processes on loopback ports of a test's own. */
export interface ClusterFromConfig {
  /** Every node's client URL, comma-separated, as `NATS_URL` takes them. */
  url: string;
  /** Kills one node at once (SIGKILL: no goodbye to its peers or clients). */
  kill(index: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The production node file with its ports, store and peers' addresses pointed at this machine.
 * The `include` of the users is left out: services in tests connect without credentials, under
 * a bus prefix the permissions do not name (test/nats-permissions.int.test.ts runs them).
 */
export async function startClusterFromConfig(): Promise<ClusterFromConfig> {
  const template = await readFile(NODE_CONF, "utf8");
  const dir = await mkdtemp(join(tmpdir(), "galaxy-cluster-conf-"));
  const nodes = await Promise.all([1, 2, 3].map(async (n) => ({ name: `galaxy-nats-${n}`, client: await freePort(), route: await freePort(), monitor: await freePort() })));
  const replace = (text: string, from: string, to: string) => {
    if (!text.includes(from)) throw new Error(`node.conf has no "${from}" to point at the test's own`);
    return text.replace(from, to);
  };
  const children: ChildProcess[] = [];
  for (const node of nodes) {
    let conf = replace(template, "listen: 0.0.0.0:4222", `listen: 127.0.0.1:${node.client}`);
    conf = replace(conf, "http_port: 8222", `http_port: ${node.monitor}`);
    conf = replace(conf, 'store_dir: "/data"', `store_dir: "${join(dir, node.name)}"`);
    conf = replace(conf, "listen: 0.0.0.0:6222", `listen: 127.0.0.1:${node.route}`);
    for (const peer of nodes) conf = replace(conf, `nats://${peer.name}:6222`, `nats://127.0.0.1:${peer.route}`);
    conf = replace(conf, 'include "authorization.conf"', "");
    const path = join(dir, `${node.name}.conf`);
    await writeFile(path, conf);
    children.push(spawn("/usr/sbin/nats-server", ["-c", path], { stdio: "ignore", env: { ...process.env, NATS_SERVER_NAME: node.name } }));
  }
  const url = nodes.map((node) => `nats://127.0.0.1:${node.client}`).join(",");
  const exit = (child: ChildProcess, signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    return exited;
  };
  const stop = async () => {
    await Promise.all(children.map((child) => exit(child, "SIGTERM")));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // The tests give their streams 3 replicas: the cluster is ready once it can place them.
    await untilStreamsPlace(url, 3);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    kill: async (index) => {
      const child = children[index];
      if (child) await exit(child, "SIGKILL");
    },
    stop,
  };
}
