import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { AuthorizationError, connect } from "@nats-io/transport-node";
import { freePort } from "@galaxy/testkit";
import { CONFIG, configCopy, json, passwordEnv, passwords, startServer, test, USERS } from "./support/nats-permissions";

/** Who may connect, and who may manage the streams (test/support/nats-permissions.ts runs the server). */
describe("authentication", () => {
  test("an unknown user, a wrong password and no credentials are refused", async ({ server }) => {
    const attempts = [
      () => connect({ servers: server.url, user: "intruder", pass: "secret", reconnect: false }),
      () => connect({ servers: server.url, user: "gateway", pass: passwords.identity, reconnect: false }),
      () => connect({ servers: server.url, reconnect: false }),
    ];
    for (const attempt of attempts) {
      const result = await attempt().then(
        async (conn) => {
          await conn.close();
          return "connected";
        },
        (error: unknown) => error,
      );
      expect(result).toBeInstanceOf(AuthorizationError);
    }
  });

  test("the server does not start while a password variable is unset", async () => {
    const storeDir = await mkdtemp(join(tmpdir(), "galaxy-nats-unset-"));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, ...passwordEnv };
      delete env.NATS_AUDIT_PASSWORD;
      const running = startServer(await configCopy(storeDir), await freePort(), env);
      const code = await new Promise<number | null>((resolve) => running.process.once("exit", resolve));
      expect(code).not.toBe(0);
      expect(running.stderr()).toContain("NATS_AUDIT_PASSWORD");
    } finally {
      await rm(storeDir, { recursive: true, force: true });
    }
  });
});

describe("streams", () => {
  test("galaxy-cli provisions EVENTS and DEAD_LETTERS, and again without harm", async ({ nc, bus }) => {
    const cli = await bus("galaxy-cli");
    await cli.provision();
    for (const [stream, subjects] of [["EVENTS", ["evt.>"]], ["DEAD_LETTERS", ["dlq.>"]]] as const) {
      const info = json((await nc["galaxy-cli"].request(`$JS.API.STREAM.INFO.${stream}`, "", { timeout: 3_000 })).data);
      expect(info).toMatchObject({ config: { name: stream, subjects } });
    }
  });

  test.for(["gateway", "identity", "agent-registry", "execution-worker", "audit"] as const)("%s cannot create, change or delete a stream", async (user, { expectPublishRefused }) => {
    await expectPublishRefused(user, "$JS.API.STREAM.CREATE.EVENTS", { name: "EVENTS", subjects: [">"] });
    await expectPublishRefused(user, "$JS.API.STREAM.UPDATE.EVENTS", { name: "EVENTS", subjects: [">"] });
    await expectPublishRefused(user, "$JS.API.STREAM.DELETE.EVENTS");
    await expectPublishRefused(user, "$JS.API.STREAM.PURGE.EVENTS");
  });

  test("galaxy-cli cannot delete or purge a stream either", async ({ expectPublishRefused }) => {
    await expectPublishRefused("galaxy-cli", "$JS.API.STREAM.DELETE.EVENTS");
    await expectPublishRefused("galaxy-cli", "$JS.API.STREAM.PURGE.DEAD_LETTERS");
  });
});


test("every user in the configuration is exercised here", async () => {
  const config = await readFile(CONFIG, "utf8");
  const configured = [...config.matchAll(/\{\s*user:\s*"([^"]+)"/g)].map((m) => m[1]).sort();
  expect(configured).toEqual([...USERS].sort());
});
