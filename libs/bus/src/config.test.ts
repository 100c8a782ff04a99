import { describe, expect, test } from "vitest";
import { NatsEnv, parseEnv } from "@galaxy/contracts";
import { busConnection } from "./config";

/** The bus's configuration from the environment (docs/bus.md, "Configuration"). */

const parse = (env: Record<string, string>) => busConnection(parseEnv(NatsEnv, env));

describe("busConnection", () => {
  test("defaults: local NATS, no credentials, one replica on file storage", () => {
    expect(parse({})).toEqual({
      url: "nats://127.0.0.1:4222", prefix: "", user: undefined, password: undefined, token: undefined, credsFile: undefined, tls: undefined,
      streams: { replicas: 1, storage: "file" },
    });
  });

  test("TLS files, a user and password, replicas and storage", () => {
    const env = {
      NATS_URL: "tls://nats-0:4222,tls://nats-1:4222", NATS_USER: "gateway", NATS_PASSWORD: "s3cret", NATS_TLS_CA_FILE: "/etc/galaxy/ca.pem",
      NATS_TLS_CERT_FILE: "/etc/galaxy/client.pem", NATS_TLS_KEY_FILE: "/etc/galaxy/client-key.pem", GALAXY_STREAM_REPLICAS: "3", GALAXY_STREAM_STORAGE: "memory",
    };
    expect(parse(env)).toMatchObject({
      url: "tls://nats-0:4222,tls://nats-1:4222", user: "gateway", password: "s3cret",
      tls: { caFile: "/etc/galaxy/ca.pem", certFile: "/etc/galaxy/client.pem", keyFile: "/etc/galaxy/client-key.pem" },
      streams: { replicas: 3, storage: "memory" },
    });
  });

  test("a token or a creds file instead of a user; empty variables count as unset", () => {
    expect(parse({ NATS_TOKEN: "t0ken", NATS_USER: "" })).toMatchObject({ token: "t0ken", user: undefined });
    expect(parse({ NATS_CREDS_FILE: "/etc/galaxy/gateway.creds", GALAXY_STREAM_REPLICAS: "" })).toMatchObject({ credsFile: "/etc/galaxy/gateway.creds", streams: { replicas: 1 } });
  });

  test("contradictions are refused, naming the variables", () => {
    expect(() => parse({ NATS_USER: "gateway", NATS_TOKEN: "t0ken" })).toThrow(/NATS_USER: choose one way to authenticate, not NATS_USER and NATS_TOKEN/);
    expect(() => parse({ NATS_TLS_CERT_FILE: "/etc/galaxy/client.pem" })).toThrow(/NATS_TLS_KEY_FILE: a client certificate needs its key/);
    expect(() => parse({ NATS_PASSWORD: "s3cret" })).toThrow(/NATS_PASSWORD: needs NATS_USER/);
    expect(() => parseEnv(NatsEnv, { GALAXY_STREAM_REPLICAS: "7" })).toThrow(/GALAXY_STREAM_REPLICAS/);
    expect(() => parseEnv(NatsEnv, { GALAXY_STREAM_STORAGE: "disk" })).toThrow(/GALAXY_STREAM_STORAGE/);
  });
});
