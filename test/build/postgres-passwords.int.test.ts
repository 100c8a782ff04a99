import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus, dropStreams } from "@galaxy/bus";
import { createServiceDb, SERVICE_SCHEMAS, sql, type ServiceName } from "@galaxy/db";
import { freePort, testLogger } from "@galaxy/testkit";
import { buildAll, ROOT } from "../../scripts/build/bundle";
import { provisionDatabase } from "../../scripts/provision";
import { selfSignedCertificate, startPostgresCluster, type PostgresCluster } from "./postgres-cluster";
import { answersOk, eventually } from "./wait";

/**
 * Galaxy on a Postgres that asks for passwords, as a managed one does (docs/operations.md,
 * Database users): a cluster of this test's own, initialized with SCRAM authentication and
 * serving TLS. Setup gives each service's login role its own password; each service logs in
 * with it, over TLS when told to; a wrong password fails naming the role.
 */

const SERVICES = Object.keys(SERVICE_SCHEMAS) as ServiceName[];
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
let cluster: PostgresCluster;
let certDir = "";
let caFile = "";
let otherCaFile = "";
let outdir = "";
const busPrefix = `pw${randomBytes(4).toString("hex")}`;
const passwords: NodeJS.ProcessEnv = Object.fromEntries(SERVICES.map((service) => [`GALAXY_${service.toUpperCase().replace(/-/g, "_")}_DB_PASSWORD`, `pw-${randomBytes(12).toString("hex")}`]));
/** The services' own URL: the server and database, no user, no password. */
let serviceUrl = "";

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), "galaxy-pg-tls-"));
  // The server reads its key from here as the postgres user.
  await chmod(certDir, 0o755);
  const server = await selfSignedCertificate(certDir, "server");
  caFile = server.certFile;
  otherCaFile = (await selfSignedCertificate(certDir, "other")).certFile;
  cluster = await startPostgresCluster({ superuserPassword: `super-${randomBytes(8).toString("hex")}`, tls: server });
  serviceUrl = `postgres://127.0.0.1:${cluster.port}/galaxy`;
  outdir = await mkdtemp(join(tmpdir(), "galaxy-dist-"));
  await buildAll({ outdir });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  await dropStreams(NATS_URL, busPrefix).catch(() => undefined);
  await rm(certDir, { recursive: true, force: true });
  await rm(outdir, { recursive: true, force: true });
});

async function whoAmI(service: ServiceName, url: string, env: NodeJS.ProcessEnv): Promise<{ user: string; schema: string; ssl: boolean }> {
  const db = createServiceDb<unknown>(url, service, { max: 1, env });
  try {
    const { rows } = await sql<{ user: string; schema: string; ssl: boolean }>`
      select current_user as "user", current_schema() as schema, coalesce((select ssl from pg_stat_ssl where pid = pg_backend_pid()), false) as ssl`.execute(db);
    return rows[0] ?? { user: "", schema: "", ssl: false };
  } finally {
    await db.destroy();
  }
}

describe("password authentication", () => {
  test("the cluster refuses the superuser without its password, so setup cannot pass by trust", async () => {
    await expect(provisionDatabase(`postgres://postgres@127.0.0.1:${cluster.port}/galaxy`, () => {}, passwords)).rejects.toThrow(/password/);
  });

  test("setup migrates with the superuser's password and gives each login role its own", async () => {
    const lines: string[] = [];
    await provisionDatabase(cluster.superuserUrl("galaxy"), (line) => lines.push(line), passwords);
    expect(lines.map((line) => line.split(":")[0])).toEqual(["gateway", "identity", "agent-registry", "execution-worker", "audit"]);
    for (const service of SERVICES) {
      expect(await whoAmI(service, serviceUrl, passwords)).toEqual({ user: `galaxy_${SERVICE_SCHEMAS[service]}`, schema: SERVICE_SCHEMAS[service], ssl: false });
    }
  }, 120_000);

  test("a service with a wrong password, or another service's, fails naming its role", async () => {
    await expect(whoAmI("audit", serviceUrl, { ...passwords, GALAXY_AUDIT_DB_PASSWORD: "wrong" })).rejects.toThrow('password authentication failed for user "galaxy_audit"');
    await expect(whoAmI("audit", serviceUrl, { ...passwords, GALAXY_AUDIT_DB_PASSWORD: passwords.GALAXY_GATEWAY_DB_PASSWORD })).rejects.toThrow('password authentication failed for user "galaxy_audit"');
  });

  test("GALAXY_<SERVICE>_DATABASE_URL is the service's whole login, and setup takes the password from it", async () => {
    const own = `postgres://galaxy_registry:${encodeURIComponent("own pass/word")}@127.0.0.1:${cluster.port}/galaxy`;
    const env = { ...passwords, GALAXY_AGENT_REGISTRY_DB_PASSWORD: undefined, GALAXY_AGENT_REGISTRY_DATABASE_URL: own };
    await provisionDatabase(cluster.superuserUrl("galaxy"), () => {}, env);
    expect((await whoAmI("agent-registry", "postgres://ignored@127.0.0.1:1/none", env)).user).toBe("galaxy_registry");
    await expect(whoAmI("agent-registry", serviceUrl, passwords)).rejects.toThrow('password authentication failed for user "galaxy_registry"');
    await provisionDatabase(cluster.superuserUrl("galaxy"), () => {}, passwords);
  }, 120_000);
});

describe("TLS", () => {
  test("verify-full with the server's CA connects encrypted; disable in the URL wins over the variables", async () => {
    const env = { ...passwords, DATABASE_SSL_MODE: "verify-full", DATABASE_SSL_CA_FILE: caFile };
    expect(await whoAmI("identity", serviceUrl, env)).toMatchObject({ user: "galaxy_identity", ssl: true });
    expect(await whoAmI("identity", `${serviceUrl}?sslmode=disable`, env)).toMatchObject({ user: "galaxy_identity", ssl: false });
    expect(await whoAmI("identity", `${serviceUrl}?sslmode=verify-ca&sslrootcert=${encodeURIComponent(caFile)}`, passwords)).toMatchObject({ ssl: true });
  });

  test("require encrypts without a CA; verify-full refuses a server its CA did not sign; a bad mode is named", async () => {
    expect(await whoAmI("audit", serviceUrl, { ...passwords, DATABASE_SSL_MODE: "require" })).toMatchObject({ ssl: true });
    await expect(whoAmI("audit", serviceUrl, { ...passwords, DATABASE_SSL_MODE: "verify-full", DATABASE_SSL_CA_FILE: otherCaFile })).rejects.toThrow(/self[- ]signed|unable to verify/);
    expect(() => createServiceDb(serviceUrl, "audit", { env: { DATABASE_SSL_MODE: "prefer" } })).toThrow('DATABASE_SSL_MODE (or sslmode in the database URL) "prefer" must be disable, require, verify-ca or verify-full');
  });
});

describe("setup over TLS", () => {
  test("setup and migrations honour sslmode in the bootstrap URL: the server's CA passes, another CA is refused", async () => {
    const url = (ca: string) => `${cluster.superuserUrl("galaxy")}?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`;
    await provisionDatabase(url(caFile), () => {}, passwords);
    await expect(provisionDatabase(url(otherCaFile), () => {}, passwords)).rejects.toThrow(/self[- ]signed|unable to verify/);
  }, 120_000);
});

describe("the compiled identity", () => {
  function startIdentity(env: NodeJS.ProcessEnv, port: number) {
    const child = spawn(process.execPath, [join(outdir, "identity/main.js")], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: serviceUrl, NATS_URL, GALAXY_BUS_PREFIX: busPrefix, GALAXY_MASTER_KEY: randomBytes(32).toString("base64"), IDENTITY_PORT: String(port), LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    return { child, exited, output: () => output };
  }

  beforeAll(async () => {
    const bus = await Bus.connect({ url: NATS_URL, prefix: busPrefix, service: "setup", logger: testLogger("setup") });
    await bus.provision();
    await bus.close();
  });

  test("answers ready with its password over TLS, and with a wrong one stops at start naming its role", async () => {
    const port = await freePort();
    const good = startIdentity({ GALAXY_IDENTITY_DB_PASSWORD: passwords.GALAXY_IDENTITY_DB_PASSWORD, DATABASE_SSL_MODE: "verify-full", DATABASE_SSL_CA_FILE: caFile }, port);
    try {
      await eventually(async () => ((await answersOk(`http://127.0.0.1:${port}/health/ready`)) ? true : undefined), 60_000, "identity to be ready");
    } finally {
      good.child.kill("SIGTERM");
      await good.exited;
    }

    const bad = startIdentity({ GALAXY_IDENTITY_DB_PASSWORD: "wrong" }, await freePort());
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain('password authentication failed for user \\"galaxy_identity\\"');
  }, 120_000);
});
