import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { FIGURES_DIR } from "./support/record";

/**
 * Prints the last run's figures (`var/fault/*.json`) as the table of docs/reliability.md:
 * `node --import tsx test/fault/figures.ts` after `make fault`.
 */
const Figures = z.object({
  fault: z.string(),
  deliveriesSent: z.number(),
  deliveriesAccepted: z.number(),
  startsSent: z.number(),
  startsAccepted: z.number(),
  requests: z.number(),
  answers503: z.number(),
  answers503WithoutRetryAfter: z.number(),
  answersOther5xx: z.record(z.string(), z.number()),
  answers4xx: z.record(z.string(), z.number()),
  noAnswer: z.number(),
  neverAccepted: z.array(z.string()),
  lost: z.array(z.string()),
  doubled: z.array(z.string()),
  stuck: z.array(z.string()),
  notCompleted: z.array(z.string()),
  modelRepeats: z.array(z.string()),
  deadLetters: z.array(z.object({ consumer: z.string() })),
  auditValid: z.boolean(),
  auditMissing: z.number(),
  settleMs: z.number().nullable(),
  readyMs: z.number(),
  downMs: z.number().optional(),
  restartsMs: z.array(z.number()).optional(),
  schedule: z.object({ ticks: z.number(), afterRedisBack: z.number(), longestGapMs: z.number(), notCompleted: z.number() }).optional(),
  recordedAt: z.string(),
});

const ORDER = ["postgres-restart", "postgres-stop", "nats-kill", "redis-stop", "kill-gateway", "kill-identity", "kill-registry", "kill-worker", "kill-audit", "worker-failover"];
const seconds = (ms: number | null | undefined): string => (ms === null || ms === undefined ? "never" : `${(ms / 1000).toFixed(1)} s`);
const tally = (counts: Record<string, number>): string => Object.entries(counts).map(([answer, n]) => `${n} × ${answer}`).join(", ") || "0";

const files = (await readdir(FIGURES_DIR)).filter((name) => name.endsWith(".json"));
const slugs = [...ORDER.filter((slug) => files.includes(`${slug}.json`)), ...files.map((f) => f.replace(/\.json$/, "")).filter((slug) => !ORDER.includes(slug))];
console.log("| fault | deliveries sent / accepted | starts sent / accepted | requests | 503 (without Retry-After) | other 5xx | 4xx | no answer | lost | doubled | stuck | not completed | model called twice | dead letters | audit | settle | ready |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const slug of slugs) {
  const f = Figures.parse(JSON.parse(await readFile(join(FIGURES_DIR, `${slug}.json`), "utf8")));
  const audit = f.auditValid ? (f.auditMissing === 0 ? "valid, complete" : `valid, ${f.auditMissing} missing`) : `INVALID, ${f.auditMissing} missing`;
  const ready = f.downMs === undefined ? seconds(f.readyMs) : `${seconds(f.downMs)} (kill to ready)`;
  const details = [
    f.restartsMs ? `restarts of ${f.restartsMs.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(", ")}` : "",
    f.schedule ? `schedule: ${f.schedule.ticks} ticks, ${f.schedule.afterRedisBack} after Redis was back, longest gap ${seconds(f.schedule.longestGapMs)}, ${f.schedule.notCompleted} not completed` : "",
  ].filter(Boolean);
  const letters: Record<string, number> = {};
  for (const letter of f.deadLetters) letters[letter.consumer] = (letters[letter.consumer] ?? 0) + 1;
  const fault = details.length > 0 ? `${f.fault} (${details.join("; ")})` : f.fault;
  console.log(
    `| ${fault} | ${f.deliveriesSent} / ${f.deliveriesAccepted} | ${f.startsSent} / ${f.startsAccepted} | ${f.requests} | ${f.answers503} (${f.answers503WithoutRetryAfter}) | ${tally(f.answersOther5xx)} | ${tally(f.answers4xx)} | ${f.noAnswer} | ${f.lost.length} | ${f.doubled.length} | ${f.stuck.length} | ${f.notCompleted.length} | ${f.modelRepeats.length} | ${tally(letters)} | ${audit} | ${seconds(f.settleMs)} | ${ready} |`,
  );
}
