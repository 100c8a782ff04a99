import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "vitest";
import type { Outcome } from "./outcome";
import { ROOT } from "./services";

/** Where each fault's last figures are written (git-ignored), for docs/reliability.md. */
export const FIGURES_DIR = join(ROOT, "var", "fault");

/** Writes the outcome (and `extra` figures) to `var/fault/<slug>.json` and prints its figures. */
export async function record(slug: string, outcome: Outcome, extra: Record<string, unknown> = {}): Promise<void> {
  await mkdir(FIGURES_DIR, { recursive: true });
  await writeFile(join(FIGURES_DIR, `${slug}.json`), `${JSON.stringify({ ...outcome, ...extra, recordedAt: new Date().toISOString() }, null, 2)}\n`);
  const o = outcome;
  console.log(
    `[fault] ${o.fault}: deliveries ${o.deliveriesAccepted}/${o.deliveriesSent} accepted, starts ${o.startsAccepted}/${o.startsSent}, requests ${o.requests}, ` +
      `503 ${o.answers503} (without Retry-After ${o.answers503WithoutRetryAfter}), other 5xx ${JSON.stringify(o.answersOther5xx)}, 4xx ${JSON.stringify(o.answers4xx)}, no answer ${o.noAnswer}; ` +
      `never accepted ${o.neverAccepted.length}, lost ${o.lost.length}, doubled ${o.doubled.length}, stuck ${o.stuck.length}, not completed ${o.notCompleted.length}, ` +
      `model repeats ${o.modelRepeats.length}, dead letters ${o.deadLetters.length}, audit valid ${o.auditValid} missing ${o.auditMissing}, ` +
      `settle ${o.settleMs ?? "never"} ms, ready ${o.readyMs} ms, crashes ${JSON.stringify(o.crashes)}`,
  );
}

/** The retry answers a well-behaved sender expects and simply resends after. */
const RETRY_ANSWERS = /^409 idempotency_in_progress$/;

/**
 * The promises of docs/reliability.md, each checked softly so one run reports every broken
 * one: nothing accepted is lost, doubled or stuck; every run completes; the audit chain is
 * valid and complete; no answer but 202, 503 (with Retry-After) or a "retry shortly"; no
 * dead letter; no service crashed.
 */
export function expectClean(outcome: Outcome, options: { noModelRepeats?: boolean } = {}): void {
  expect.soft(outcome.lost, "accepted, then lost").toEqual([]);
  expect.soft(outcome.doubled, "doubled").toEqual([]);
  expect.soft(outcome.stuck, "stuck").toEqual([]);
  expect.soft(outcome.notCompleted, "ended other than completed").toEqual([]);
  expect.soft(outcome.neverAccepted, "never accepted before the sender gave up").toEqual([]);
  expect.soft(outcome.answersOther5xx, "5xx other than 503").toEqual({});
  expect.soft(Object.keys(outcome.answers4xx).filter((answer) => !RETRY_ANSWERS.test(answer)), "4xx answers").toEqual([]);
  expect.soft(outcome.answers503WithoutRetryAfter, "503 without Retry-After").toBe(0);
  expect.soft(outcome.deadLetters, "dead letters").toEqual([]);
  expect.soft(outcome.auditValid, "audit chain valid").toBe(true);
  expect.soft(outcome.auditMissing, "events without their audit entry").toBe(0);
  expect.soft(outcome.crashes, "service exits the suite did not cause").toEqual([]);
  if (options.noModelRepeats) expect.soft(outcome.modelRepeats, "runs that called the model twice").toEqual([]);
}
