import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { z } from "zod";
import type { Bus } from "@galaxy/bus";
import { DeadLetterQuery, GalaxyError, PROJECTIONS, ReplayListQuery, ReplayStatus, RerunExecutionsRequest, StartReplayBody, TierName, issueDetails, type ReplayRun } from "@galaxy/contracts";
import { describeGrant, grantSystemAdmin } from "./commands/admin";
import { describeVerification, verifyAuditLog } from "./commands/audit";
import { describeDeadLetter, describeDeadLetters, describeRedrive, describeRedrives, listDeadLetters, redriveDeadLetter, redriveDeadLetters, showDeadLetter } from "./commands/dlq";
import { describeRerun, rerunExecutions } from "./commands/executions";
import { describeKeys, describeRevocation, describeRotation, listKeys, revokeKey, rotateKeys } from "./commands/keys";
import { describeTier, setTier, showTier, withRateTiers } from "./commands/tiers";
import { describeMigration, migrate } from "./commands/migrate";
import { cancelReplay, describeReplay, describeReplays, getReplay, listReplays, progressBar, runReplay } from "./commands/replay";
import { CliFailure, CliUsageError, connectCli, parseCliEnv } from "./config";
import { printRead, registerReads } from "./reads";

/** Exit codes: 0 done, 1 the operation failed, 2 bad usage (arguments, environment). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** How to reach the bus (tests may hand in their own). */
  connect?: (env: NodeJS.ProcessEnv) => Promise<Bus>;
  /** Where progress bars go (the process's stderr); none when absent. */
  progress?: NodeJS.WritableStream;
  /** Registers what Ctrl-C does while a command follows a long operation; returns how to unregister it. */
  onInterrupt?: (handler: () => void) => () => void;
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
    .description("Galaxy's operator program: over NATS, replays, dead letters, re-runs, audit verification, migrations, system admins and signing keys; through the API, quick reads of agents, executions and triggers")
    .addOption(new Option("--json", "print answers (and errors, on stderr) as JSON"))
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })
    .addHelpText(
      "after",
      "\nEnvironment: NATS_URL (default nats://127.0.0.1:4222), NATS_USER / NATS_PASSWORD (galaxy-cli in production),\nGALAXY_BUS_PREFIX, GALAXY_CLI_TIMEOUT_MS (default 10000), LOG_LEVEL (default silent, to stderr);\nGALAXY_API_URL (default http://127.0.0.1:8080) and GALAXY_API_KEY for agents, executions and triggers.\nExit codes: 0 done, 1 the operation failed, 2 bad usage.",
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

  const replay = program
    .command("replay")
    .description("replay EVENTS into one projection (docs/replay.md), with a progress bar; Ctrl-C cancels it")
    .addOption(new Option("--target <projection>", "the projection to rebuild").choices(Object.keys(PROJECTIONS)).makeOptionMandatory())
    .option("--subject <filter>", "one subject filter (default evt.>, or evt.<workspace>.> with --workspace)")
    .option("--workspace <id>", "only this workspace's events (a subject token)")
    .option("--since <time>", "from this ISO time")
    .option("--until <time>", "up to this ISO time")
    .option("--from-seq <n>", "from this stream sequence", positiveInt)
    .option("--to-seq <n>", "up to this stream sequence (default: the stream's end when the replay starts)", positiveInt)
    .option("--dry-run", "count what would be replayed; change nothing")
    .option("--rate <n>", "at most n messages a second", positiveInt)
    .option("--reset", "drop the target's projection of --workspace, then rebuild it from the start (live events wait meanwhile; no --until or --to-seq). If it fails or is cancelled the workspace stays held: run it again")
    .option("--detach", "start it and print its id; follow it with `galaxy replays show <id>`")
    .action(async (options: ReplayOptions) => {
      const body = parseWith(StartReplayBody, {
        target: options.target,
        subject: options.subject,
        workspaceId: options.workspace,
        since: options.since,
        until: options.until,
        fromSeq: options.fromSeq,
        toSeq: options.toSeq,
        dryRun: options.dryRun === true,
        ratePerSec: options.rate,
        reset: options.reset === true,
      });
      const json = program.opts<GlobalOptions>().json === true;
      const bar = io.progress && !json && !options.detach ? progressBar(io.progress) : undefined;
      let interrupted = false;
      const release = io.onInterrupt?.(() => (interrupted = true));
      let ended: ReplayRun | undefined;
      try {
        await withBus(
          async (bus) => {
            ended = await runReplay(bus, body, { detach: options.detach === true, onProgress: (run) => bar?.update(run), interrupted: () => interrupted });
            bar?.stop();
            return ended;
          },
          describeReplay,
        )();
      } finally {
        bar?.stop();
        release?.();
      }
      if (ended && !options.detach && ended.status !== "completed") setExit(EXIT.failure);
    });

  const replays = program.command("replays").description("replays run so far");
  replays
    .command("list")
    .description("replays, newest first")
    .addOption(new Option("--status <status>", "only replays in this state").choices(ReplayStatus.options))
    .addOption(new Option("--target <projection>", "only replays of this projection").choices(Object.keys(PROJECTIONS)))
    .option("--limit <n>", "how many (default 20, at most 100)", positiveInt)
    .option("--offset <n>", "how many to skip", nonNegativeInt)
    .action(async (options: { status?: string; target?: string; limit?: number; offset?: number }) => {
      const query = parseWith(ReplayListQuery, options);
      await withBus((bus) => listReplays(bus, query), describeReplays)();
    });
  replays
    .command("show")
    .description("one replay with its progress")
    .argument("<id>", "the replay's id")
    .action(async (id: string) => withBus((bus) => getReplay(bus, id), describeReplay)());
  replays
    .command("cancel")
    .description("stop a running replay within moments (a cancelled reset keeps the workspace held until a reset of it completes)")
    .argument("<id>", "the replay's id")
    .action(async (id: string) => withBus((bus) => cancelReplay(bus, id), describeReplay)());

  const dlq = program.command("dlq").description("dead letters: what a consumer could not apply, and redrives back to it");
  dlq
    .command("list")
    .description("dead letters, newest first")
    .option("--consumer <name>", "only this consumer's (e.g. audit, execution-worker-agents)")
    .option("--subject <subject>", "only this original subject")
    .option("--pending", "only those not applied by a redrive yet")
    .option("--limit <n>", "how many (default 20, at most 100)", positiveInt)
    .option("--offset <n>", "how many to skip", nonNegativeInt)
    .action(async (options: { consumer?: string; subject?: string; pending?: boolean; limit?: number; offset?: number }) => {
      const query = parseWith(DeadLetterQuery, { consumer: options.consumer, subject: options.subject, redriven: options.pending ? false : undefined, limit: options.limit, offset: options.offset });
      await withBus((bus) => listDeadLetters(bus, query), describeDeadLetters)();
    });
  dlq
    .command("show")
    .description("one dead letter: error, deliveries, headers (the claim redacted), payload")
    .argument("<id>", "its sequence in DEAD_LETTERS", positiveInt)
    .action(async (id: number) => withBus((bus) => showDeadLetter(bus, id), describeDeadLetter)());
  dlq
    .command("redrive")
    .description("hand a dead letter (or every one of --consumer [and --subject]) back to the consumer that failed it; applied once")
    .argument("[id]", "its sequence in DEAD_LETTERS", positiveInt)
    .option("--consumer <name>", "redrive every dead letter of this consumer not applied yet")
    .option("--subject <subject>", "with --consumer: only this original subject")
    .action(async (id: number | undefined, options: { consumer?: string; subject?: string }) => {
      if (id !== undefined && options.consumer !== undefined) throw new CliUsageError("give a dead letter's id or --consumer, not both");
      if (id === undefined && options.consumer === undefined) throw new CliUsageError("give a dead letter's id, or --consumer (and --subject) to redrive many");
      const { consumer } = options;
      // A letter its consumer refused again stays: the command failed at what it was asked (exit 1), and says why.
      let refused = false;
      if (id !== undefined) {
        await withBus(async (bus) => {
          const one = await redriveDeadLetter(bus, id);
          refused = one.outcome === "failed";
          return one;
        }, describeRedrive)();
      } else {
        await withBus(async (bus) => {
          const many = await redriveDeadLetters(bus, consumer ?? "", options.subject);
          refused = many.redriven.some((one) => one.outcome === "failed");
          return many;
        }, describeRedrives)();
      }
      if (refused) setExit(EXIT.failure);
    });

  const executions = program.command("executions").description("executions: re-runs across workspaces (over NATS); one workspace's list and show (through the API)");
  executions
    .command("rerun")
    .description("start one agent's failed executions again as new ones (trigger `replay`, linked to the original); --dry-run shows the count first")
    .requiredOption("--agent <id>", "the agent whose executions to re-run")
    .addOption(new Option("--status <status>", "which executions").choices(["failed", "timed_out", "cancelled"]).default("failed"))
    .requiredOption("--since <time>", "created at or after this ISO time")
    .option("--until <time>", "created before this ISO time")
    .option("--dry-run", "count them and start nothing")
    .option("--limit <n>", "at most this many (default 100, at most 1000)", positiveInt)
    .action(async (options: { agent: string; status: string; since: string; until?: string; dryRun?: boolean; limit?: number }) => {
      const request = parseWith(RerunExecutionsRequest, { agentId: options.agent, status: options.status, since: options.since, until: options.until, dryRun: options.dryRun === true, limit: options.limit });
      await withBus((bus) => rerunExecutions(bus, request), describeRerun)();
    });

  registerReads(program, executions, printRead(io.env, () => program.opts<GlobalOptions>().json === true, io.out, () => setExit(EXIT.ok)));

  const audit = program.command("audit").description("the audit log");
  audit
    .command("verify")
    .description("check one workspace's hash chain end to end (exit 1 when it is broken)")
    .requiredOption("--workspace <id>", "the workspace (the system workspace is 00000000-0000-0000-0000-000000000000)")
    .action(async (options: { workspace: string }) => {
      let valid = true;
      await withBus(
        async (bus) => {
          const result = await verifyAuditLog(bus, options.workspace);
          valid = result.valid;
          return result;
        },
        describeVerification,
      )();
      if (!valid) setExit(EXIT.failure);
    });

  program
    .command("migrate")
    .description("create the database, roles and schemas, run every service's migrations, and provision the streams (safe to run again)")
    .action(async () => {
      const env = parseCliEnv(io.env);
      await withBus((bus) => migrate(env, bus), describeMigration)();
    });

  const admin = program.command("admin").description("system admins: users who may use /api/admin/* and read the system workspace");
  admin
    .command("grant-system-admin")
    .description("give an existing user the system_admin flag (recorded in the system workspace's audit log)")
    .argument("<email>", "the user's email")
    .action(async (email: string) => withBus((bus) => grantSystemAdmin(bus, email), describeGrant)());

  const tiers = program.command("tiers").description("workspaces' subscription tiers: executions at once, queued, tokens a month (docs/executions.md)");
  tiers
    .command("show")
    .description("a workspace's tier and what it allows")
    .argument("<workspace>", "the workspace's id")
    .action(async (workspace: string) => withBus((bus) => showTier(bus, workspace), describeTier)());
  tiers
    .command("set")
    .description("set a workspace's tier; it applies to its next start and the next executions taken from its queue (recorded in its audit log)")
    .argument("<workspace>", "the workspace's id")
    .argument("<tier>", `one of ${TierName.options.join(", ")}`, tierName)
    .action(async (workspace: string, tier: TierName) => {
      const env = parseCliEnv(io.env);
      await withBus((bus) => withRateTiers(env.REDIS_URL, (redis) => setTier(bus, redis, workspace, tier)), describeTier)();
    });

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
  for (const command of [replay, replays, dlq, executions, audit, admin, tiers, keys, ...replays.commands, ...dlq.commands, ...executions.commands, ...audit.commands, ...admin.commands, ...tiers.commands, ...keys.commands, ...program.commands]) {
    command.exitOverride().configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) }).showHelpAfterError("(run with --help for usage)");
  }
  return program;
}

interface ReplayOptions {
  target: string;
  subject?: string;
  workspace?: string;
  since?: string;
  until?: string;
  fromSeq?: number;
  toSeq?: number;
  dryRun?: boolean;
  rate?: number;
  reset?: boolean;
  detach?: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a whole number of 1 or more");
  return n;
}

function tierName(value: string): TierName {
  const tier = TierName.safeParse(value);
  if (!tier.success) throw new InvalidArgumentError(`must be one of ${TierName.options.join(", ")}`);
  return tier.data;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a whole number of 0 or more");
  return n;
}

/** Parses options against the request's own schema; what it refuses is a usage error naming the option. */
function parseWith<T>(schema: z.ZodType<T>, value: Record<string, unknown>): T {
  const defined = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
  const result = schema.safeParse(defined);
  if (result.success) return result.data;
  const details = issueDetails(result.error);
  throw new CliUsageError(Object.entries(details).map(([field, message]) => `${field}: ${message}`).join("; "));
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
