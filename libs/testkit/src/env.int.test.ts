import { createServer } from "node:net";
import { describe, expect, inject, test } from "vitest";
import pg from "pg";
import { Redis } from "ioredis";
import { connect } from "@nats-io/transport-node";
import { createLocalJWKSet, jwtVerify } from "jose";
import { ClaimVerifier } from "@galaxy/bus";
import { CLAIM_AUDIENCE, CLAIM_ISSUER, CLAIM_TYP } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { TestClaims } from "./claims";
import { createTestEnv } from "./env";
import { freePort } from "./ports";
import { connectTestBus, serviceDb } from "./service";

async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Whether JetStream has a stream of this name (asked through its API, as any client would). */
async function streamExists(natsUrl: string, name: string): Promise<boolean> {
  const nc = await connect({ servers: natsUrl });
  try {
    const reply = await nc.request(`$JS.API.STREAM.INFO.${name}`, "");
    const body: unknown = JSON.parse(new TextDecoder().decode(reply.data));
    if (body === null || typeof body !== "object") throw new Error("unexpected JetStream reply");
    if ("config" in body) return true;
    if ("error" in body && body.error && typeof body.error === "object" && "code" in body.error && body.error.code === 404) return false;
    throw new Error(`unexpected JetStream reply: ${JSON.stringify(body)}`);
  } finally {
    await nc.close();
  }
}

describe("createTestEnv", () => {
  test("gives a database of its own, cloned from the migrated template, and cleanup drops everything it made", async () => {
    const engines = inject("engines");
    const env = await createTestEnv(engines);
    let cleaned = false;
    try {
      expect(env.databaseName).not.toBe(engines.template);
      expect(env.databaseUrl).toContain(`/${env.databaseName}`);
      const tables = await query<{ table_name: string }>(env.databaseUrl, "select table_name from information_schema.tables where table_schema = 'identity' order by table_name");
      expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(["members", "outbox", "signing_keys", "users", "workspaces"]));

      // What one file writes is its own: the template stays as it was.
      const db = serviceDb<unknown>(env, "identity");
      try {
        await sql`insert into users (id, email, name) values (gen_random_uuid(), 'clone@example.com', 'C')`.execute(db);
        const who = await sql<{ current_user: string }>`select current_user`.execute(db);
        expect(who.rows[0]?.current_user).toBe("galaxy_identity");
      } finally {
        await db.destroy();
      }
      const templateUrl = env.databaseUrl.replace(`/${env.databaseName}`, `/${engines.template}`);
      expect(await query(templateUrl, "select 1 from identity.users where email = 'clone@example.com'")).toEqual([]);

      const bus = await connectTestBus(env, "gateway");
      await bus.close();
      const prefix = env.busPrefix.toUpperCase();
      expect(await streamExists(env.natsUrl, `${prefix}_EVENTS`)).toBe(true);
      expect(await streamExists(env.natsUrl, `${prefix}_DEAD_LETTERS`)).toBe(true);

      const redis = new Redis(env.redisUrl);
      try {
        await redis.set(`${env.redisPrefix}rate:1`, "1");
        await redis.set(`${env.redisPrefix}rate:2`, "2");
        await redis.set("galaxy-test-other-file:keep", "1");
      } finally {
        redis.disconnect();
      }

      await env.cleanup();
      cleaned = true;

      expect(await query(engines.databaseUrl.replace(/\/[^/]*$/, "/postgres"), "select 1 from pg_database where datname = $1", [env.databaseName])).toEqual([]);
      expect(await streamExists(env.natsUrl, `${prefix}_EVENTS`)).toBe(false);
      expect(await streamExists(env.natsUrl, `${prefix}_DEAD_LETTERS`)).toBe(false);
      const after = new Redis(env.redisUrl);
      try {
        expect(await after.keys(`${env.redisPrefix}*`)).toEqual([]);
        expect(await after.get("galaxy-test-other-file:keep")).toBe("1");
        await after.del("galaxy-test-other-file:keep");
      } finally {
        after.disconnect();
      }
    } finally {
      if (!cleaned) await env.cleanup();
    }
  });

  test("two environments share nothing", async () => {
    const engines = inject("engines");
    const [a, b] = await Promise.all([createTestEnv(engines), createTestEnv(engines)]);
    try {
      expect(a.databaseName).not.toBe(b.databaseName);
      expect(a.busPrefix).not.toBe(b.busPrefix);
      expect(a.redisPrefix).not.toBe(b.redisPrefix);
      expect(a.masterKey).not.toBe(b.masterKey);
      expect(Buffer.from(a.masterKey, "base64")).toHaveLength(32);
      expect(a.busPrefix).toMatch(/^[a-zA-Z0-9_-]+$/);
    } finally {
      await Promise.all([a.cleanup(), b.cleanup()]);
    }
  });
});

describe("TestClaims", () => {
  test("signs claims its JWKS verifies as identity's, with the claim type, issuer and audience", async () => {
    const claims = await TestClaims.create();
    const ws = "0190f5a0-0000-7000-8000-00000000000a";
    const token = await claims.sign({ ws, sub: "u1", role: "member", act: "api_key", perms: { agents: { create: false } } });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet({ keys: claims.jwks.keys.map((k) => ({ ...k })) }), {
      algorithms: ["EdDSA"],
      issuer: CLAIM_ISSUER,
      audience: CLAIM_AUDIENCE,
      typ: CLAIM_TYP,
    });
    expect(protectedHeader.kid).toBe(claims.kid);
    expect(payload).toMatchObject({ ws, sub: "u1", role: "member", act: "api_key", perms: { agents: { create: false } } });
    const verifier = new ClaimVerifier({ loadJwks: async () => claims.jwks });
    expect(await verifier.verify(token, { checkExpiry: true })).toMatchObject({ ws, sub: "u1" });
    await expect(verifier.verify(await claims.sign({ ws, ttlS: -1 }), { checkExpiry: true })).rejects.toMatchObject({ reason: "expired" });
  });

  test("serves the JWKS and service claims on a test bus", async () => {
    const env = await createTestEnv(inject("engines"));
    const claims = await TestClaims.create();
    const identity = await connectTestBus(env, "identity", { loadJwks: async () => claims.jwks });
    const worker = await connectTestBus(env, "execution-worker");
    try {
      await claims.serve(identity);
      expect(await worker.request("identity.jwks", {})).toEqual(claims.jwks);
      const ws = "0190f5a0-0000-7000-8000-00000000000b";
      const grant = await worker.serviceClaims.get(ws);
      const claim = await worker.claims.verify(grant, { checkExpiry: true });
      expect(claim).toMatchObject({ ws, sub: "execution-worker", act: "service" });
      expect(await worker.serviceClaims.get(ws)).toBe(grant);
      expect(await worker.serviceClaims.get("0190f5a0-0000-7000-8000-00000000000c")).not.toBe(grant);
    } finally {
      await worker.close();
      await identity.close();
      await env.cleanup();
    }
  });
});

test("freePort gives a port nothing listens on", async () => {
  const port = await freePort();
  expect(port).toBeGreaterThan(0);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
