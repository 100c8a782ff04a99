import { expect } from "vitest";
import { testLogger } from "@galaxy/testkit";
import { clusterTest } from "../test/fixtures";
import type { NatsCluster } from "../test/nats-cluster";
import { Bus } from "./bus";
import type { StreamSettings } from "./config";

/**
 * On a cluster, streams keep as many copies as configured (`GALAXY_STREAM_REPLICAS`), and a
 * service provisioning with fewer (a default of 1 left in one service's configuration) never
 * takes copies away (docs/bus.md, "Streams"). Runs on three `nats-server` nodes of its own.
 */

const test = clusterTest();

async function provisionWith(cluster: NatsCluster, streams: Partial<StreamSettings>): Promise<void> {
  const bus = await Bus.connect({ url: cluster.url, prefix: "replicas", service: "setup", logger: testLogger("setup"), streams });
  try {
    await bus.provision();
  } finally {
    await bus.close();
  }
}

test("streams get the configured replicas, may gain more, and never lose any", async ({ cluster, jsm }) => {
  await provisionWith(cluster, { replicas: 3 });
  expect((await jsm.streams.info("REPLICAS_EVENTS")).config.num_replicas).toBe(3);
  expect((await jsm.streams.info("REPLICAS_DEAD_LETTERS")).config.num_replicas).toBe(3);

  await provisionWith(cluster, { replicas: 1 });
  await provisionWith(cluster, {});
  expect((await jsm.streams.info("REPLICAS_EVENTS")).config.num_replicas).toBe(3);
  expect((await jsm.streams.info("REPLICAS_DEAD_LETTERS")).config.num_replicas).toBe(3);
});

test("a stream created with one replica is raised when the configuration asks for more", async ({ cluster, jsm }) => {
  const bus = await Bus.connect({ url: cluster.url, prefix: "raised", service: "setup", logger: testLogger("setup"), streams: { replicas: 1 } });
  try {
    await bus.provision();
    expect((await jsm.streams.info("RAISED_EVENTS")).config.num_replicas).toBe(1);
  } finally {
    await bus.close();
  }
  const raised = await Bus.connect({ url: cluster.url, prefix: "raised", service: "setup", logger: testLogger("setup"), streams: { replicas: 3 } });
  try {
    await raised.provision();
    expect((await jsm.streams.info("RAISED_EVENTS")).config.num_replicas).toBe(3);
  } finally {
    await raised.close();
  }
});
