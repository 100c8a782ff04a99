import { Command, CommanderError, Option } from "commander";
import type { Bus } from "@galaxy/bus";
import { GalaxyError } from "@galaxy/contracts";
import { describeGrant, grantSystemAdmin } from "./commands/admin";
import { describeKeys, describeRevocation, describeRotation, listKeys, revokeKey, rotateKeys } from "./commands/keys";
import { CliFailure, CliUsageError, connectCli, parseCliEnv } from "./config";

/** Exit codes: 0 done, 1 the operation failed, 2 bad usage (arguments, environment). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** How to reach the bus (tests may hand in their own). */
  connect?: (env: NodeJS.ProcessEnv) => Promise<Bus>;
}

interface GlobalOptions {
  json?: boolean;
}

/**
 * Runs `galaxy` with `argv` (without the node and script paths) and answers its exit code.
 * Human output by default; `--json` prints each answer as one JSON document for scripts.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (exit) => (code = exit));
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, successfully.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const json = program.opts<GlobalOptions>().json === true;
    return report(error, json, io);
  }
}

function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command("galaxy")
    .description("Galaxy's operator program: system admins and signing keys, over NATS")
    .addOption(new Option("--json", "print answers (and errors, on stderr) as JSON"))
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })
    .addHelpText(
      "after",
      "\nEnvironment: NATS_URL (default nats://127.0.0.1:4222), NATS_USER / NATS_PASSWORD (galaxy-cli in production),\nGALAXY_BUS_PREFIX, GALAXY_CLI_TIMEOUT_MS (default 10000), LOG_LEVEL (default silent, to stderr).\nExit codes: 0 done, 1 the operation failed, 2 bad usage.",
    );

  /** Connects, runs `action`, prints its answer, and closes the connection. */
  const withBus = <T>(action: (bus: Bus) => Promise<T>, describe: (result: T) => string) => async () => {
    const json = program.opts<GlobalOptions>().json === true;
    const bus = await (io.connect ?? ((env) => connectCli(parseCliEnv(env))))(io.env);
    try {
      const result = await action(bus);
      io.out(json ? JSON.stringify({ data: result }, null, 2) : describe(result));
      setExit(EXIT.ok);
    } finally {
      await bus.close().catch(() => undefined);
    }
  };

  const admin = program.command("admin").description("system admins: users who may use /api/admin/* and read the system workspace");
  admin
    .command("grant-system-admin")
    .description("give an existing user the system_admin flag (recorded in the system workspace's audit log)")
    .argument("<email>", "the user's email")
    .action(async (email: string) => withBus((bus) => grantSystemAdmin(bus, email), describeGrant)());

  const keys = program.command("keys").description("identity's signing keys (access tokens and workspace claims)");
  keys
    .command("list")
    .description("every signing key with its status: pending, active, retired or revoked")
    .action(async () => withBus(listKeys, describeKeys)());
  keys
    .command("rotate")
    .description("publish a new key now; it signs after KEY_ACTIVATION_DELAY_MS (default 60 s), and the active key retires")
    .option("--now", "sign with the new key at once (after a compromise, before revoking the old one)")
    .action(async (options: { now?: boolean }) => withBus((bus) => rotateKeys(bus, { now: options.now === true }), describeRotation)());
  keys
    .command("revoke")
    .description("remove a retired or pending key from the JWKS: what it signed stops verifying (rotate first to revoke the active key)")
    .argument("<kid>", "the key's id (see `galaxy keys list`)")
    .action(async (kid: string) => withBus((bus) => revokeKey(bus, kid), describeRevocation)());

  // Every command gets --help and the same output and exit handling.
  for (const command of [admin, keys, ...admin.commands, ...keys.commands]) {
    command.exitOverride().configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) }).showHelpAfterError("(run with --help for usage)");
  }
  return program;
}

/** Prints an error the way the user asked for, and answers its exit code. */
function report(error: unknown, json: boolean, io: CliIo): number {
  if (error instanceof CliUsageError) {
    io.err(json ? JSON.stringify({ error: { code: "usage", message: error.message } }) : `galaxy: ${error.message}`);
    return EXIT.usage;
  }
  // A request the service refused as malformed (a bad email) is bad usage, not a failure.
  if (error instanceof GalaxyError && error.status === 400) {
    io.err(json ? JSON.stringify({ error: { code: error.code, message: error.message, details: error.details } }) : `galaxy: ${error.message} (${error.code})${error.details ? `: ${Object.entries(error.details).map(([k, v]) => `${k} ${v}`).join("; ")}` : ""}`);
    return EXIT.usage;
  }
  const { code, message } =
    error instanceof GalaxyError
      ? { code: error.code, message: error.message }
      : error instanceof CliFailure
        ? { code: error.code, message: error.message }
        : { code: "internal_error", message: error instanceof Error ? error.message : String(error) };
  io.err(json ? JSON.stringify({ error: { code, message } }) : `galaxy: ${message} (${code})`);
  return EXIT.failure;
}
