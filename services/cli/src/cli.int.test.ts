import { describe, expect } from "vitest";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { z } from "zod";
import type { Bus } from "@galaxy/bus";
import { SigningKeyInfo, SigningKeyList, SigningKeyRotation, SystemAdminGrant } from "@galaxy/contracts";
import { connectTestBus } from "@galaxy/testkit";
import { cliTest } from "../test/fixtures";
import { grantSystemAdmin } from "./commands/admin";
import { listKeys } from "./commands/keys";
import { connectCli, parseCliEnv } from "./config";
import { EXIT, runCli } from "./program";

const MAIN = resolve(import.meta.dirname, "main.ts");

/**
 * The file's fixtures, each set up once per file, all before its first test:
 * - `env`, `db`, `identity` and `galaxy`: the CLI tests' own (`test/fixtures.ts`);
 * - `gateway`: a connection calling identity as the gateway would, on which ops@example.com signed up;
 */
const test = cliTest
  .extend("gateway", { scope: "file" }, async ({ env, identity }, { onCleanup }): Promise<Bus> => {
    // Identity answers before the first request.
    void identity;
    const gateway = await connectTestBus(env, "gateway");
    onCleanup(() => gateway.close());
    await gateway.request("identity.auth.signup", { email: "ops@example.com", password: "correct horse battery", name: "Ops", workspaceName: "Ops" });
    return gateway;
  });
test.beforeAll(async ({ gateway }) => {
  void gateway;
});

function dataOf<S extends z.ZodType>(schema: S, text: string): z.infer<S> {
  const envelope = z.object({ data: z.unknown() }).parse(JSON.parse(text));
  return schema.parse(envelope.data);
}

describe("galaxy admin grant-system-admin", () => {
  test("grants the flag, and says so again without changing anything", async ({ db, galaxy }) => {
    const first = await galaxy("admin", "grant-system-admin", "ops@example.com");
    expect(first).toMatchObject({ code: EXIT.ok, err: "" });
    expect(first.out).toContain("ops@example.com");
    expect(first.out).toContain("is now a system admin");
    const again = await galaxy("--json", "admin", "grant-system-admin", "OPS@example.com");
    expect(again.code).toBe(EXIT.ok);
    expect(dataOf(SystemAdminGrant, again.out)).toMatchObject({ email: "ops@example.com", systemAdmin: true, changed: false });
    const row = await db.selectFrom("users").select("system_admin").where("email", "=", "ops@example.com").executeTakeFirstOrThrow();
    expect(row.system_admin).toBe(true);
  });

  test("an unknown user fails with 1 and a clear message; a malformed email is a usage error", async ({ galaxy }) => {
    const unknown = await galaxy("admin", "grant-system-admin", "nobody@example.com");
    expect(unknown).toMatchObject({ code: EXIT.failure, out: "" });
    expect(unknown.err).toContain("user_not_found");
    const json = await galaxy("--json", "admin", "grant-system-admin", "nobody@example.com");
    expect(JSON.parse(json.err)).toMatchObject({ error: { code: "user_not_found" } });
    expect((await galaxy("admin", "grant-system-admin", "not-an-email")).code).toBe(EXIT.usage);
    expect((await galaxy("admin", "grant-system-admin")).code).toBe(EXIT.usage);
  });

  test("the command function works on its own connection", async ({ env }) => {
    const bus = await connectCli(parseCliEnv({ NATS_URL: env.natsUrl, GALAXY_BUS_PREFIX: env.busPrefix }));
    try {
      await expect(grantSystemAdmin(bus, "ops@example.com")).resolves.toMatchObject({ changed: false });
      const keys = await listKeys(bus);
      expect(keys.keys.filter((key) => key.status === "active")).toHaveLength(1);
    } finally {
      await bus.close();
    }
  });
});

describe("galaxy keys", () => {
  test("rotate publishes a pending key; list shows it beside the active one; revoke refuses the active key", async ({ galaxy }) => {
    const before = dataOf(SigningKeyList, (await galaxy("--json", "keys", "list")).out);
    const active = before.keys.find((key) => key.status === "active");
    expect(active).toBeDefined();

    const rotated = await galaxy("--json", "keys", "rotate");
    expect(rotated.code).toBe(EXIT.ok);
    const rotation = dataOf(SigningKeyRotation, rotated.out);
    expect(rotation).toMatchObject({ previousKid: active?.kid, key: { status: "pending" } });

    const listed = await galaxy("keys", "list");
    expect(listed.code).toBe(EXIT.ok);
    expect(listed.out).toMatch(new RegExp(`${rotation.key.kid}\\s+pending`));
    expect(listed.out).toMatch(new RegExp(`${active?.kid}\\s+active`));

    const refused = await galaxy("keys", "revoke", active?.kid ?? "");
    expect(refused.code).toBe(EXIT.failure);
    expect(refused.err).toContain("signing_key_active");
  });

  test("revoke removes a pending key from the JWKS", async ({ gateway, galaxy }) => {
    const pending = dataOf(SigningKeyList, (await galaxy("--json", "keys", "list")).out).keys.find((key) => key.status === "pending");
    expect(pending).toBeDefined();
    const revoked = await galaxy("--json", "keys", "revoke", pending?.kid ?? "");
    expect(revoked.code).toBe(EXIT.ok);
    expect(dataOf(SigningKeyInfo, revoked.out)).toMatchObject({ kid: pending?.kid, status: "revoked" });
    const jwks = await gateway.request("identity.jwks", {});
    expect(jwks.keys.map((key) => key.kid)).not.toContain(pending?.kid);
  });

  test("rotate --now signs with the new key at once", async ({ identity, galaxy }) => {
    const rotation = dataOf(SigningKeyRotation, (await galaxy("--json", "keys", "rotate", "--now")).out);
    expect(rotation.key.status).toBe("active");
    expect(identity.keys.activeKid()).toBe(rotation.key.kid);
  });
});

describe("usage and failures", () => {
  test("an unknown command or option is a usage error", async ({ galaxy }) => {
    expect((await galaxy("keys", "bogus")).code).toBe(EXIT.usage);
    expect((await galaxy("keys", "list", "--bogus")).code).toBe(EXIT.usage);
    expect((await galaxy("--help")).code).toBe(EXIT.ok);
  });

  test("an unreachable NATS fails with 1 and says where it looked", async () => {
    let err = "";
    const code = await runCli(["keys", "list"], { out: () => undefined, err: (text) => (err += text), env: { NATS_URL: "nats://127.0.0.1:1" } });
    expect(code).toBe(EXIT.failure);
    expect(err).toContain("nats://127.0.0.1:1");
    expect(err).toContain("bus_unreachable");
  });

  test("`galaxy --help` as a process prints every command and exits 0", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.once("exit", done));
    expect(code).toBe(0);
    expect(out).toContain("Usage: galaxy");
    expect(out).toContain("admin");
    expect(out).toContain("keys");
    expect(out).toContain("--json");
  }, 30_000);
});
