import { Presets, SingleBar } from "cli-progress";
import type { Bus } from "@galaxy/bus";
import type { ReplayListQuery, ReplayRun, StartReplayBody } from "@galaxy/contracts";
import { operatorOptions, table } from "./operator";

/** How often `galaxy replay` asks for progress. */
const POLL_MS = 250;

export interface ReplayProgress {
  /** Called with each progress reading while the replay runs. */
  onProgress?: (run: ReplayRun) => void;
  /** Resolves to true when the operator asked to stop (Ctrl-C): the replay is cancelled. */
  interrupted?: () => boolean;
}

/**
 * `galaxy replay`: starts a replay (docs/replay.md) and, unless `detach`, follows it to the end,
 * cancelling it if the operator interrupts. Answers the replay as it ended (or as it started).
 */
export async function runReplay(bus: Bus, body: StartReplayBody, options: { detach?: boolean } & ReplayProgress = {}): Promise<ReplayRun> {
  const auth = await operatorOptions(bus);
  const { id } = await bus.request("audit.replays.start", body, auth);
  let run = await bus.request("audit.replays.get", { id }, auth);
  if (options.detach) return run;
  let cancelled = false;
  while (run.status === "running") {
    options.onProgress?.(run);
    if (!cancelled && options.interrupted?.()) {
      cancelled = true;
      await bus.request("audit.replays.cancel", { id }, auth);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    run = await bus.request("audit.replays.get", { id }, auth);
  }
  options.onProgress?.(run);
  return run;
}

export async function getReplay(bus: Bus, id: string): Promise<ReplayRun> {
  return bus.request("audit.replays.get", { id }, await operatorOptions(bus));
}

export async function listReplays(bus: Bus, query: ReplayListQuery): Promise<ReplayRun[]> {
  return (await bus.request("audit.replays.list", query, await operatorOptions(bus))).items;
}

export async function cancelReplay(bus: Bus, id: string): Promise<ReplayRun> {
  return bus.request("audit.replays.cancel", { id }, await operatorOptions(bus));
}

/** A progress bar on stderr (stdout stays for the answer): matched of what the bound leaves, applied, skipped, rate, ETA. */
export function progressBar(stream: NodeJS.WritableStream): { update: (run: ReplayRun) => void; stop: () => void } {
  const bar = new SingleBar(
    {
      format: "replay {target} |{bar}| {value}/{total} matched · {applied} applied · {skipped} skipped · {failed} failed · {rate}/s · ETA {eta_s}",
      hideCursor: true,
      stream,
      noTTYOutput: true,
      notTTYSchedule: 2_000,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(run) {
      const total = Math.max(run.matched + (run.status === "running" ? (run.etaSeconds === null ? 1 : Math.round(run.rate * run.etaSeconds)) : 0), run.matched, 1);
      const payload = { target: run.target, applied: run.applied, skipped: run.skipped, failed: run.failed, rate: run.rate, eta_s: run.etaSeconds === null ? "?" : `${run.etaSeconds}s` };
      if (!started) {
        bar.start(total, run.matched, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(run.matched, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function describeReplay(run: ReplayRun): string {
  const scope = `${run.subject}${run.dryRun ? " (dry run: nothing changed)" : ""}${run.reset ? (run.status === "completed" ? " (reset and rebuilt)" : " (reset: the workspace stays held until a reset of it completes)") : ""}`;
  const counts = `matched ${run.matched}, applied ${run.applied}, skipped ${run.skipped}, failed ${run.failed}`;
  const lines = [`Replay ${run.id} to ${run.target} ${run.status}: ${scope}`, counts];
  if (run.endSeq !== null) lines.push(`stream sequences ${run.fromSeq ?? 1}..${run.endSeq}${run.lastSeq !== null ? `, last read ${run.lastSeq}` : ""}`);
  if (run.failed > 0) lines.push("The messages the target refused are dead letters of its consumer: see `galaxy dlq list`.");
  if (run.error) lines.push(`error: ${run.error}`);
  return lines.join("\n");
}

export function describeReplays(runs: ReplayRun[]): string {
  if (runs.length === 0) return "No replays.";
  return table([
    ["ID", "TARGET", "STATUS", "SUBJECT", "MATCHED", "APPLIED", "SKIPPED", "FAILED", "STARTED"],
    ...runs.map((r) => [r.id, r.target, r.status, r.subject, String(r.matched), String(r.applied), String(r.skipped), String(r.failed), r.startedAt]),
  ]);
}
