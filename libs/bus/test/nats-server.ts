import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@galaxy/testkit";

const NATS_SERVER = "/usr/sbin/nats-server";
const run = promisify(execFile);

/** A `nats-server` of a test's own on a free loopback port, started with `args`. */
export interface OwnNatsServer {
  port: number;
  stop(): Promise<void>;
}

/** Starts it with JetStream (the bus needs it), its store in a temporary directory. */
export async function startNatsServer(args: string[]): Promise<OwnNatsServer> {
  const port = await freePort();
  const store = await mkdtemp(join(tmpdir(), "galaxy-nats-"));
  const child: ChildProcess = spawn(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store, ...args], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error("nats-server did not listen within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(store, { recursive: true, force: true });
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate it signed, as PEM files in a temporary directory. */
export interface TestCertificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  remove(): Promise<void>;
}

export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), "galaxy-nats-tls-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  await openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=galaxy-test-ca", "-keyout", at("ca-key.pem"), "-out", at("ca.pem"));
  await writeFile(at("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const [name, ext] of [["server", ["-extfile", at("server.ext")]], ["client", []]] as const) {
    await openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=galaxy-test-${name}`, "-keyout", at(`${name}-key.pem`), "-out", at(`${name}.csr`));
    await openssl("x509", "-req", "-in", at(`${name}.csr`), "-CA", at("ca.pem"), "-CAkey", at("ca-key.pem"), "-CAcreateserial", "-days", "1", "-out", at(`${name}.pem`), ...ext);
  }
  return {
    dir,
    ca: at("ca.pem"),
    serverCert: at("server.pem"),
    serverKey: at("server-key.pem"),
    clientCert: at("client.pem"),
    clientKey: at("client-key.pem"),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
