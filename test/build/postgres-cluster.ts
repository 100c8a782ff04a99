import { execFile } from "node:child_process";
import { chmod, chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@galaxy/testkit";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";

/** A Postgres cluster of a test's own, on a free loopback port, with password (SCRAM) authentication. */
export interface PostgresCluster {
  port: number;
  dir: string;
  /** The superuser's URL for `database`. */
  superuserUrl(database: string): string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  superuserPassword: string;
  /** Serve TLS with this certificate and key (PEM files), besides plain connections. */
  tls?: { certFile: string; keyFile: string };
}

async function asPostgres(command: string, args: string[]): Promise<void> {
  await run("runuser", ["-u", "postgres", "--", join(BIN, command), ...args], { timeout: 60_000 });
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** initdb with `--auth=scram-sha-256`, then pg_ctl start; the server runs as the `postgres` user. */
export async function startPostgresCluster(options: ClusterOptions): Promise<PostgresCluster> {
  const dir = await mkdtemp(join(tmpdir(), "galaxy-pg-"));
  const { uid, gid } = await postgresIds();
  await chown(dir, uid, gid);
  const pwfile = join(dir, "superuser-password");
  await writeFile(pwfile, `${options.superuserPassword}\n`, { mode: 0o600 });
  await chown(pwfile, uid, gid);
  const data = join(dir, "data");
  await asPostgres("initdb", ["-D", data, "--auth=scram-sha-256", "--username=postgres", `--pwfile=${pwfile}`, "--encoding=UTF8", "--no-sync"]);

  const settings = ["-c listen_addresses=127.0.0.1", `-k ${dir}`, "-c fsync=off", "-c max_connections=50"];
  if (options.tls) {
    for (const file of [options.tls.certFile, options.tls.keyFile]) {
      await chown(file, uid, gid);
      await chmod(file, 0o600);
    }
    settings.push("-c ssl=on", `-c ssl_cert_file=${options.tls.certFile}`, `-c ssl_key_file=${options.tls.keyFile}`);
  }
  const port = await freePort();
  await asPostgres("pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "-o", `-p ${port} ${settings.join(" ")}`, "start"]);
  return {
    port,
    dir,
    superuserUrl: (database) => `postgres://postgres:${encodeURIComponent(options.superuserPassword)}@127.0.0.1:${port}/${database}`,
    async stop() {
      await asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A self-signed certificate for 127.0.0.1 (its own CA), as PEM files in `dir`. */
export async function selfSignedCertificate(dir: string, name: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { timeout: 60_000 });
  return { certFile, keyFile };
}
