import { describe, expect, test as base } from "vitest";
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
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
const passwords: NodeJS.ProcessEnv = Object.fromEntries(SERVICES.map((service) => [`GALAXY_${service.toUpperCase().replace(/-/g, "_")}_DB_PASSWORD`, `pw-${randomBytes(12).toString("hex")}`]));

/** Self-signed TLS files: the server's certificate and key, its CA (the certificate itself), and another CA, which did not sign it. */
interface Certificates {
  server: { certFile: string; keyFile: string };
  caFile: string;
  otherCaFile: string;
}

/** The compiled identity, started by `startIdentity`: the process, its exit code once it exits, and what it printed. */
interface StartedIdentity {
  child: ChildProcessByStdio<null, Readable, Readable>;
  exited: Promise<number | null>;
  output(): string;
}

/**
 * Each set up once per file and cleaned up after it:
 * - `certificates`: the TLS files, in a directory of their own;
 * - `cluster`: the Postgres cluster, with SCRAM authentication, serving TLS with the server's
 *   certificate; started before the first test, under the hooks' time limit;
 * - `serviceUrl`: the services' own URL on it: the server and database, no user, no password;
 * - `outdir`: the programs compiled as `make build` does, in a directory of their own;
 * - `busPrefix`: a bus prefix of the file's own, its streams provisioned (dropped after);
 * - `startIdentity`: starts the compiled identity on `serviceUrl` and `busPrefix` with the
 *   environment given, on the port given.
 */
const test = base
  .extend("certificates", { scope: "file" }, async ({}, { onCleanup }): Promise<Certificates> => {
    const certDir = await mkdtemp(join(tmpdir(), "galaxy-pg-tls-"));
    onCleanup(() => rm(certDir, { recursive: true, force: true }));
    // The server reads its key from here as the postgres user.
    await chmod(certDir, 0o755);
    const server = await selfSignedCertificate(certDir, "server");
    return { server, caFile: server.certFile, otherCaFile: (await selfSignedCertificate(certDir, "other")).certFile };
  })
  .extend("cluster", { scope: "file" }, async ({ certificates }, { onCleanup }): Promise<PostgresCluster> => {
    const cluster = await startPostgresCluster({ superuserPassword: `super-${randomBytes(8).toString("hex")}`, tls: certificates.server });
    onCleanup(() => cluster.stop());
    return cluster;
  })
  .extend("serviceUrl", { scope: "file" }, async ({ cluster }) => `postgres://127.0.0.1:${cluster.port}/galaxy`)
  .extend("outdir", { scope: "file" }, async ({}, { onCleanup }): Promise<string> => {
    const outdir = await mkdtemp(join(tmpdir(), "galaxy-dist-"));
    onCleanup(() => rm(outdir, { recursive: true, force: true }));
    await buildAll({ outdir });
    return outdir;
  })
  .extend("busPrefix", { scope: "file" }, async ({}, { onCleanup }): Promise<string> => {
    const busPrefix = `pw${randomBytes(4).toString("hex")}`;
    onCleanup(() => dropStreams(NATS_URL, busPrefix).catch(() => undefined));
    const bus = await Bus.connect({ url: NATS_URL, prefix: busPrefix, service: "setup", logger: testLogger("setup") });
    await bus.provision();
    await bus.close();
    return busPrefix;
  })
  .extend("startIdentity", { scope: "file" }, async ({ outdir, serviceUrl, busPrefix }) => (env: NodeJS.ProcessEnv, port: number): StartedIdentity => {
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
  });
// Every test needs the cluster, and the compiled programs: initdb, the certificates and the
// build take longer than a test's limit allows.
test.beforeAll(async ({ cluster, outdir }) => {
  void cluster;
  void outdir;
}, 180_000);

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
  test("the cluster refuses the superuser without its password, so setup cannot pass by trust", async ({ cluster }) => {
    await expect(provisionDatabase(`postgres://postgres@127.0.0.1:${cluster.port}/galaxy`, () => {}, passwords)).rejects.toThrow(/password/);
  });

  test("setup migrates with the superuser's password and gives each login role its own", async ({ cluster, serviceUrl }) => {
    const lines: string[] = [];
    await provisionDatabase(cluster.superuserUrl("galaxy"), (line) => lines.push(line), passwords);
    expect(lines.map((line) => line.split(":")[0])).toEqual(["gateway", "identity", "agent-registry", "execution-worker", "audit"]);
    for (const service of SERVICES) {
      expect(await whoAmI(service, serviceUrl, passwords)).toEqual({ user: `galaxy_${SERVICE_SCHEMAS[service]}`, schema: SERVICE_SCHEMAS[service], ssl: false });
    }
  }, 120_000);

  test("a service with a wrong password, or another service's, fails naming its role", async ({ serviceUrl }) => {
    await expect(whoAmI("audit", serviceUrl, { ...passwords, GALAXY_AUDIT_DB_PASSWORD: "wrong" })).rejects.toThrow('password authentication failed for user "galaxy_audit"');
    await expect(whoAmI("audit", serviceUrl, { ...passwords, GALAXY_AUDIT_DB_PASSWORD: passwords.GALAXY_GATEWAY_DB_PASSWORD })).rejects.toThrow('password authentication failed for user "galaxy_audit"');
  });

  test("GALAXY_<SERVICE>_DATABASE_URL is the service's whole login, and setup takes the password from it", async ({ cluster, serviceUrl }) => {
    const own = `postgres://galaxy_registry:${encodeURIComponent("own pass/word")}@127.0.0.1:${cluster.port}/galaxy`;
    const env = { ...passwords, GALAXY_AGENT_REGISTRY_DB_PASSWORD: undefined, GALAXY_AGENT_REGISTRY_DATABASE_URL: own };
    await provisionDatabase(cluster.superuserUrl("galaxy"), () => {}, env);
    expect((await whoAmI("agent-registry", "postgres://ignored@127.0.0.1:1/none", env)).user).toBe("galaxy_registry");
    await expect(whoAmI("agent-registry", serviceUrl, passwords)).rejects.toThrow('password authentication failed for user "galaxy_registry"');
    await provisionDatabase(cluster.superuserUrl("galaxy"), () => {}, passwords);
  }, 120_000);
});

describe("TLS", () => {
  test("verify-full with the server's CA connects encrypted; disable in the URL wins over the variables", async ({ serviceUrl, certificates }) => {
    const env = { ...passwords, DATABASE_SSL_MODE: "verify-full", DATABASE_SSL_CA_FILE: certificates.caFile };
    expect(await whoAmI("identity", serviceUrl, env)).toMatchObject({ user: "galaxy_identity", ssl: true });
    expect(await whoAmI("identity", `${serviceUrl}?sslmode=disable`, env)).toMatchObject({ user: "galaxy_identity", ssl: false });
    expect(await whoAmI("identity", `${serviceUrl}?sslmode=verify-ca&sslrootcert=${encodeURIComponent(certificates.caFile)}`, passwords)).toMatchObject({ ssl: true });
  });

  test("require encrypts without a CA; verify-full refuses a server its CA did not sign; a bad mode is named", async ({ serviceUrl, certificates }) => {
    expect(await whoAmI("audit", serviceUrl, { ...passwords, DATABASE_SSL_MODE: "require" })).toMatchObject({ ssl: true });
    await expect(whoAmI("audit", serviceUrl, { ...passwords, DATABASE_SSL_MODE: "verify-full", DATABASE_SSL_CA_FILE: certificates.otherCaFile })).rejects.toThrow(/self[- ]signed|unable to verify/);
    expect(() => createServiceDb(serviceUrl, "audit", { env: { DATABASE_SSL_MODE: "prefer" } })).toThrow('DATABASE_SSL_MODE (or sslmode in the database URL) "prefer" must be disable, require, verify-ca or verify-full');
  });
});

describe("setup over TLS", () => {
  test("setup and migrations honour sslmode in the bootstrap URL: the server's CA passes, another CA is refused", async ({ cluster, certificates }) => {
    const url = (ca: string) => `${cluster.superuserUrl("galaxy")}?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`;
    await provisionDatabase(url(certificates.caFile), () => {}, passwords);
    await expect(provisionDatabase(url(certificates.otherCaFile), () => {}, passwords)).rejects.toThrow(/self[- ]signed|unable to verify/);
  }, 120_000);
});

describe("the compiled identity", () => {
  test("answers ready with its password over TLS, and with a wrong one stops at start naming its role", async ({ startIdentity, certificates }) => {
    const port = await freePort();
    const good = startIdentity({ GALAXY_IDENTITY_DB_PASSWORD: passwords.GALAXY_IDENTITY_DB_PASSWORD, DATABASE_SSL_MODE: "verify-full", DATABASE_SSL_CA_FILE: certificates.caFile }, port);
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
