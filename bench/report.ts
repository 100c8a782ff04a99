import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { readFile, writeFile } from "node:fs/promises";
import type { ResultRow } from "./context";

export interface Machine {
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  /** The 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAtStart: number;
  postgres: string;
  nats: string;
  redis: string;
}

export function hostFacts(): Pick<Machine, "cores" | "cpu" | "memoryGiB" | "node" | "loadAtStart"> {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    loadAtStart: loadavg()[0] ?? Number.NaN,
  };
}

/** The results as a Markdown table (it reads as plain text on a terminal too). */
export function resultsTable(rows: readonly ResultRow[]): string {
  const header = ["benchmark", "metric", "Galaxy", "baseline (same run)", "Galaxy ÷ baseline", "target", "met"];
  const lines = rows.map((r) => [r.benchmark, r.metric, r.galaxy, r.baseline, r.ratio, r.target, r.met === null ? "—" : r.met ? "yes" : "no"]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const format = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [format(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...lines.map(format)].join("\n");
}

export function machineLine(machine: Machine): string {
  return `${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB memory, Node ${machine.node}, PostgreSQL ${machine.postgres}, NATS ${machine.nats}, Redis ${machine.redis}; load average ${machine.loadAtStart.toFixed(2)} at the start`;
}

const START = "<!-- bench:results -->";
const END = "<!-- /bench:results -->";

/** The block of docs/benchmarks.md that `BENCH_WRITE_DOC=1 make bench` rewrites. */
export function resultsBlock(machine: Machine, rows: readonly ResultRow[], notes: readonly string[], durationS: number, date: Date): string {
  return [
    START,
    `Run of ${date.toISOString().slice(0, 10)} (${Math.round(durationS)} s for the whole \`make bench\` runner) on ${machineLine(machine)}.`,
    "",
    resultsTable(rows),
    "",
    ...notes.map((n) => `- ${n}`),
    END,
  ].join("\n");
}

/** Replaces the results block of `path`; refuses if the file lacks the markers. */
export async function writeResultsBlock(path: string, block: string): Promise<void> {
  const text = await readFile(path, "utf8");
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${path} has no ${START} … ${END} block to rewrite`);
  await writeFile(path, `${text.slice(0, start)}${block}${text.slice(end + END.length)}`);
}
