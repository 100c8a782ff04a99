import { describe, expect } from "vitest";
import { NatsEnv, parseEnv } from "@galaxy/contracts";
import { testLogger } from "@galaxy/testkit";
import { ownNatsTest } from "../test/fixtures";
import { Bus } from "./bus";
import { busConnection } from "./config";

/**
 * The bus reaches a NATS that asks for TLS with client certificates, or for a token, from the
 * environment alone (docs/bus.md, "Configuration"). Each server is the test's own.
 */

const test = ownNatsTest();

async function connectFrom(env: Record<string, string>): Promise<Bus> {
  return Bus.connect({ ...busConnection(parseEnv(NatsEnv, env)), service: "gateway", logger: testLogger("gateway"), requestTimeoutMs: 2_000 });
}

/** A request served and answered over the connection: the link works both ways. */
async function roundTrip(bus: Bus): Promise<void> {
  bus.serve("identity.jwks", async () => ({ keys: [] }));
  await bus.flush();
  expect(await bus.request("identity.jwks", {})).toEqual({ keys: [] });
}

describe("TLS", () => {
  test("with the CA and a client certificate from the environment, the bus connects and works", async ({ certs, tlsServer }) => {
    const bus = await connectFrom({
      NATS_URL: `tls://127.0.0.1:${tlsServer.port}`,
      NATS_TLS_CA_FILE: certs.ca,
      NATS_TLS_CERT_FILE: certs.clientCert,
      NATS_TLS_KEY_FILE: certs.clientKey,
    });
    try {
      await roundTrip(bus);
    } finally {
      await bus.close();
    }
  });

  test("without a client certificate, the server refuses it", async ({ certs, tlsServer }) => {
    await expect(connectFrom({ NATS_URL: `tls://127.0.0.1:${tlsServer.port}`, NATS_TLS_CA_FILE: certs.ca })).rejects.toThrow();
  });
});

describe("token", () => {
  test("NATS_TOKEN authenticates; a wrong one is refused", async ({ tokenServer }) => {
    const bus = await connectFrom({ NATS_URL: `nats://127.0.0.1:${tokenServer.port}`, NATS_TOKEN: "galaxy-test-token" });
    try {
      await roundTrip(bus);
    } finally {
      await bus.close();
    }
    await expect(connectFrom({ NATS_URL: `nats://127.0.0.1:${tokenServer.port}`, NATS_TOKEN: "wrong" })).rejects.toThrow();
  });
});
