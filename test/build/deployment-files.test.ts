import { describe, expect, test } from "vitest";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { z } from "zod";
import { ROOT } from "../../scripts/build/bundle";
import { HEAP_FLAGS, PROGRAM_ENV, semiSpaceFlag } from "../../scripts/program-args";

/**
 * docker-compose.yml, the Dockerfile and infra/nats agree (docs/operations.md, The image): no
 * Docker engine runs here, so what can be checked without one is checked on the files.
 */

const run = promisify(execFile);
const GALAXY_SERVICES = ["gateway", "identity", "agent-registry", "execution-worker", "audit"] as const;

const ComposeService = z.object({
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.string().nullable()).optional(),
  volumes: z.array(z.string()).optional(),
});
const Compose = z.object({ services: z.record(z.string(), ComposeService) });

const compose = Compose.parse(parse(await readFile(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }));
const natsConfig = await readFile(join(ROOT, "infra/nats/nats-server.conf"), "utf8");
const dockerfile = await readFile(join(ROOT, "Dockerfile"), "utf8");

function service(name: string) {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return { ...found, environment: found.environment ?? {} };
}

/** The variable a `${NAME:?…}` or `${NAME}` value reads. */
function variableOf(value: string | null | undefined): string | undefined {
  return /^\$\{([A-Z0-9_]+)(?::\?[^}]*)?\}$/.exec(value ?? "")?.[1];
}

/** The NATS users of the production configuration, with the variable each one's password comes from. */
const natsUsers = new Map([...natsConfig.matchAll(/\{ user: "([a-z-]+)",\s+password: \$([A-Z_]+),/g)].map((m) => [m[1] ?? "", m[2] ?? ""]));

describe("docker-compose.yml", () => {
  test("every Galaxy program runs the one image, chosen by GALAXY_SERVICE (setup by argument)", () => {
    for (const name of [...GALAXY_SERVICES, "dev-model"]) {
      expect(service(name).image, name).toBe("galaxy:local");
      expect(service(name).environment.GALAXY_SERVICE, name).toBe(name);
    }
    expect(service("setup").image).toBe("galaxy:local");
    expect(service("setup").command).toEqual(["setup"]);
  });

  test("NATS runs the production configuration, and each service logs in as its own user with that user's password", () => {
    expect(service("nats").volumes).toContain("./infra/nats/nats-server.conf:/etc/nats/nats-server.conf:ro");
    expect(service("nats").command).toEqual(["nats-server", "-c", "/etc/nats/nats-server.conf"]);
    expect(natsUsers.size).toBe(6);
    for (const [user, variable] of natsUsers) expect(variableOf(service("nats").environment[variable]), user).toBe(variable);
    for (const [name, user] of [...GALAXY_SERVICES.map((s) => [s, s] as const), ["setup", "galaxy-cli"] as const]) {
      const env = service(name).environment;
      expect(env.NATS_USER, name).toBe(user);
      expect(variableOf(env.NATS_PASSWORD), name).toBe(natsUsers.get(user));
    }
  });

  test("each service gets its own database password and never the superuser's; setup sets them all", () => {
    const passwordVariable = (name: string) => `GALAXY_${name.toUpperCase().replace(/-/g, "_")}_DB_PASSWORD`;
    for (const name of GALAXY_SERVICES) {
      const env = service(name).environment;
      expect(variableOf(env[passwordVariable(name)]), name).toBe(passwordVariable(name));
      expect(JSON.stringify(env), name).not.toContain("POSTGRES_PASSWORD");
      expect(Object.keys(env).filter((key) => key.endsWith("_DB_PASSWORD")), name).toEqual([passwordVariable(name)]);
    }
    const setup = service("setup").environment;
    for (const name of GALAXY_SERVICES) expect(variableOf(setup[passwordVariable(name)]), name).toBe(passwordVariable(name));
    expect(setup.DATABASE_URL).toContain("${POSTGRES_PASSWORD");
    expect(service("postgres").environment.POSTGRES_HOST_AUTH_METHOD).toBe("scram-sha-256");
  });

  test("bin/compose-env.mjs writes every secret the file requires, and keeps those already there", async () => {
    const required = new Set([...JSON.stringify(compose).matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1] ?? ""));
    const dir = await mkdtemp(join(tmpdir(), "galaxy-compose-env-"));
    try {
      const script = join(dir, "bin", "compose-env.mjs");
      await run("mkdir", ["-p", join(dir, "bin")]);
      await run("cp", [join(ROOT, "bin/compose-env.mjs"), script]);
      await run(process.execPath, [script]);
      const first = await readFile(join(dir, ".env"), "utf8");
      const written = new Map(first.trim().split("\n").map((line) => [line.split("=")[0] ?? "", line.slice(line.indexOf("=") + 1)]));
      expect([...required].filter((name) => !written.has(name))).toEqual([]);
      for (const [name, value] of written) if (name.startsWith("NATS_")) expect(value, name).toMatch(/^[a-z][a-z0-9]+$/);
      await run(process.execPath, [script]);
      expect(await readFile(join(dir, ".env"), "utf8")).toBe(first);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("Dockerfile", () => {
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

  test("the final stage holds dist/, the production install and bin/ only, runs as node, and checks readiness", () => {
    expect(dockerfile).toContain("RUN sh /usr/local/bin/install-production /production");
    expect(dockerfile).toContain("COPY scripts/install-production.sh /usr/local/bin/install-production");
    expect(finalStage.match(/^COPY .*$/gm)).toEqual([
      "COPY --from=production-dependencies /production/node_modules ./node_modules",
      "COPY --from=build /app/dist ./dist",
      "COPY bin/start.sh bin/service.mjs bin/healthcheck.mjs ./bin/",
    ]);
    expect(finalStage).toMatch(/^USER node$/m);
    expect(finalStage).toMatch(/^HEALTHCHECK .* CMD \["node", "bin\/healthcheck.mjs"\]$/m);
    // node with the program's heap flags (next test), and the environment they start with.
    expect(finalStage.match(/^ENTRYPOINT (.*)$/m)?.[1]).toBe('["sh", "bin/start.sh"]');
    expect(finalStage).not.toMatch(/^ENV NODE_OPTIONS/m);
    for (const [name, value] of Object.entries(PROGRAM_ENV)) expect(finalStage).toMatch(new RegExp(`^ENV ${name}=${value}$`, "m"));
  });

  test("the build stage builds the console before the programs, so dist/ carries it to the final stage (dist/console)", () => {
    const buildStage = dockerfile.slice(dockerfile.indexOf(" AS build"), dockerfile.indexOf(" AS production-dependencies"));
    expect(buildStage).toMatch(/^RUN pnpm --filter @galaxy\/console run build && node --import tsx scripts\/build\.ts --no-link$/m);
  });
});

describe("bin/start.sh, the image's entry point", () => {
  /** The command line start.sh runs for `args` and `env`, through a `node` that prints its arguments. */
  async function commandLine(args: string[], env: Record<string, string>): Promise<string[]> {
    const dir = await mkdtemp(join(tmpdir(), "galaxy-start-sh-"));
    try {
      await run("sh", ["-c", `printf '#!/bin/sh\nprintf "%%s\\n" "$@"\n' > "${dir}/node" && chmod +x "${dir}/node"`]);
      const { stdout } = await run("sh", [join(ROOT, "bin/start.sh"), ...args], { env: { PATH: `${dir}:/usr/bin:/bin`, ...env } });
      return stdout.split("\n").filter(Boolean);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  test("runs each program with the heap flags `make up` gives it (scripts/program-args.ts)", async () => {
    for (const name of [...GALAXY_SERVICES, "dev-model", "setup", "cli"]) {
      const expected = [semiSpaceFlag(name), ...HEAP_FLAGS, "bin/service.mjs"];
      expect(await commandLine([], { GALAXY_SERVICE: name }), `${name} by GALAXY_SERVICE`).toEqual(expected);
      expect(await commandLine([name, "--flag"], {}), `${name} by argument`).toEqual([...expected, name, "--flag"]);
    }
    expect(semiSpaceFlag("audit")).not.toBe(semiSpaceFlag("gateway"));
  });

  test("leaves NODE_OPTIONS to the operator", async () => {
    expect(await readFile(join(ROOT, "bin/start.sh"), "utf8")).not.toMatch(/NODE_OPTIONS=/);
  });
});
