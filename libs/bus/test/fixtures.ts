import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { test as base } from "vitest";
import { connectTestBus, startOncePerFile } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import type { Bus } from "../src/bus";
import { startNatsCluster, type NatsCluster } from "./nats-cluster";
import { makeCertificates, startNatsServer, type OwnNatsServer, type TestCertificates } from "./nats-server";
import { StreamInspector } from "./support";

/** Opens a bus of the file's own prefix as `service` would (`connectTestBus`), closed after the file's last test. */
export type ConnectBus = (service: string, options?: Parameters<typeof connectTestBus>[2]) => Promise<Bus>;

/**
 * The fixtures of the bus's engine tests, each set up once per file when a test (or a fixture
 * it uses) asks for it, and cleaned up after the file's last test:
 * - `env`, `claims`: the file's own database, bus prefix and Redis prefix, and a signer of
 *   workspace claims whose keys an identity stand-in serves on the bus (`@galaxy/testkit/fixtures`);
 * - `connect`: opens buses by service name once the claims' keys are served, and closes them all;
 * - `inspector`: a NATS connection of the test's own, reading streams and consumers (support.ts).
 * A file needing something of its own (a bus serving an operation, another identity) extends this.
 */
export const busTest = engineTest
  .extend("connect", { scope: "file" }, async ({ env, claims }, { onCleanup }): Promise<ConnectBus> => {
    // Buses verify claims against the keys identity serves: they connect once it serves them.
    void claims;
    const opened: Bus[] = [];
    onCleanup(async () => {
      for (const bus of opened.reverse()) await bus.close();
    });
    return async (service, options = {}) => {
      const bus = await connectTestBus(env, service, options);
      opened.push(bus);
      return bus;
    };
  })
  .extend("inspector", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const inspector = await StreamInspector.open(env);
    onCleanup(() => inspector.close());
    return inspector;
  });

/**
 * A JetStream cluster of the file's own (`cluster`: three `nats-server` nodes, nats-cluster.ts)
 * and `jsm`, JetStream's API over a connection to it. Both are up before the file's first test.
 */
export function clusterTest() {
  const test = base
    .extend("cluster", { scope: "file" }, async ({}, { onCleanup }): Promise<NatsCluster> => {
      startOncePerFile("NATS cluster", "clusterTest");
      const cluster = await startNatsCluster();
      onCleanup(() => cluster.stop());
      return cluster;
    })
    .extend("jsm", { scope: "file" }, async ({ cluster }, { onCleanup }): Promise<JetStreamManager> => {
      const nc: NatsConnection = await natsConnect({ servers: cluster.url.split(",") });
      onCleanup(() => nc.close());
      return jetstreamManager(nc);
    });
  // Three nodes start under the hooks' time limit, not the first test's. The hook is on this
  // chain: a file that extended it would start a second cluster, which the guard above refuses.
  test.beforeAll(async ({ jsm }) => {
    void jsm;
  });
  return test;
}

/**
 * Two `nats-server`s of the file's own (nats-server.ts): `tlsServer` asks for TLS with a client
 * certificate signed by the CA of `certs`; `tokenServer` asks for a token, "galaxy-test-token".
 * All are up before the file's first test.
 */
export function ownNatsTest() {
  const test = base
    .extend("certs", { scope: "file" }, async ({}, { onCleanup }): Promise<TestCertificates> => {
      startOncePerFile("set of own nats-servers", "ownNatsTest");
      const certs = await makeCertificates();
      onCleanup(() => certs.remove());
      return certs;
    })
    .extend("tlsServer", { scope: "file" }, async ({ certs }, { onCleanup }): Promise<OwnNatsServer> => {
      const server = await startNatsServer(["--tlsverify", "--tlscert", certs.serverCert, "--tlskey", certs.serverKey, "--tlscacert", certs.ca]);
      onCleanup(() => server.stop());
      return server;
    })
    .extend("tokenServer", { scope: "file" }, async ({}, { onCleanup }): Promise<OwnNatsServer> => {
      const server = await startNatsServer(["--auth", "galaxy-test-token"]);
      onCleanup(() => server.stop());
      return server;
    });
  // The certificates and servers are made under the hooks' time limit, not the first test's (on
  // this chain: a file that extended it would start them twice, which the guard above refuses).
  test.beforeAll(async ({ tlsServer, tokenServer }) => {
    void tlsServer;
    void tokenServer;
  });
  return test;
}
