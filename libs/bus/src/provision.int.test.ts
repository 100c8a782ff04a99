import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { busTest } from "../test/fixtures";
import { agentCreated } from "../test/support";
import { Bus } from "./bus";
import { dropStreams } from "./provisioning";

/** The streams a deployment needs, and how provisioning keeps them (docs/bus.md, "Streams"). */

const test = busTest
  .extend("gatewayBus", { scope: "file" }, async ({ connect }) => connect("gateway"))
  .extend("publisher", { scope: "file" }, async ({ connect }) => connect("agent-registry"));

describe("provision", () => {
  test("creates <PREFIX>_EVENTS and <PREFIX>_DEAD_LETTERS on the prefix's subjects", async ({ env, inspector, gatewayBus: caller }) => {
    const upper = env.busPrefix.toUpperCase();
    const events = await inspector.jsm.streams.info(`${upper}_EVENTS`);
    const dead = await inspector.jsm.streams.info(`${upper}_DEAD_LETTERS`);
    expect(events.config.subjects).toEqual([`${env.busPrefix}.evt.>`]);
    expect(dead.config.subjects).toEqual([`${env.busPrefix}.dlq.>`]);
    expect(caller.stream("EVENTS")).toBe(`${upper}_EVENTS`);
  });

  test("several services provisioning a fresh deployment at once all succeed", async ({ env, inspector, gatewayBus: caller }) => {
    const prefix = `${env.busPrefix}p`;
    const buses = await Promise.all(
      ["identity", "audit", "gateway"].map((service) => Bus.connect({ url: env.natsUrl, prefix, service, logger: caller.logger })),
    );
    try {
      await Promise.all(buses.map((bus) => bus.provision()));
      const info = await inspector.jsm.streams.info(`${prefix.toUpperCase()}_EVENTS`);
      expect(info.config.subjects).toEqual([`${prefix}.evt.>`]);
    } finally {
      await Promise.all(buses.map((bus) => bus.close()));
      await dropStreams(env.natsUrl, prefix);
    }
  });

  test("is idempotent: running it again keeps the streams and what they hold", async ({ claims, inspector, gatewayBus: caller, publisher }) => {
    const ws = uuidv7();
    await publisher.publishEvent(agentCreated(ws, await claims.sign({ ws })));
    const before = await inspector.jsm.streams.info(caller.stream("EVENTS"));
    await caller.provision();
    await publisher.provision();
    const after = await inspector.jsm.streams.info(caller.stream("EVENTS"));
    expect(after.state.messages).toBe(before.state.messages);
    expect(after.state.messages).toBeGreaterThan(0);
    expect(after.config.subjects).toEqual(before.config.subjects);
  });

  test("storage comes from the configuration: memory when asked, file by default", async ({ env, inspector, gatewayBus: caller }) => {
    const prefix = `${env.busPrefix}m`;
    const bus = await Bus.connect({ url: env.natsUrl, prefix, service: "setup", logger: caller.logger, streams: { storage: "memory" } });
    try {
      await bus.provision();
      expect((await inspector.jsm.streams.info(`${prefix.toUpperCase()}_EVENTS`)).config.storage).toBe("memory");
      expect((await inspector.jsm.streams.info(caller.stream("EVENTS"))).config.storage).toBe("file");
      expect((await inspector.jsm.streams.info(caller.stream("EVENTS"))).config.num_replicas).toBe(1);
    } finally {
      await bus.close();
      await dropStreams(env.natsUrl, prefix);
    }
  });
});
