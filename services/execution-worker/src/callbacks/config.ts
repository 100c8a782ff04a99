import { z } from "zod";
import type { OutboundPolicy } from "@galaxy/webhooks";

/** How completion callbacks are delivered and retried (README, "Completion callbacks"). */
export interface CallbackSettings {
  /** The first retry's delay; each further one doubles it, with jitter (default 30 s). */
  backoffBaseMs: number;
  /** The longest delay between two attempts (default 1 h). */
  backoffMaxMs: number;
  /** How long after the first attempt retries go on (default 24 h). */
  retryWindowMs: number;
  /** How long one attempt may take, connection to last byte (default 10 s). */
  timeoutMs: number;
  /** How often the timer looks for due retries (default 1 s); a new delivery wakes it at once. */
  pollIntervalMs: number;
}

export interface CallbackConfig extends CallbackSettings {
  /** `OUTBOUND_HOST_ALLOWLIST`: where callbacks may go. */
  policy: OutboundPolicy;
}

export const DEFAULT_CALLBACK_SETTINGS: CallbackSettings = {
  backoffBaseMs: 30_000,
  backoffMaxMs: 3_600_000,
  retryWindowMs: 86_400_000,
  timeoutMs: 10_000,
  pollIntervalMs: 1_000,
};

const ms = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/** The environment variables of completion callbacks; each unset one takes its default. */
export const CallbackEnv = z.object({
  CALLBACK_BACKOFF_BASE_MS: ms(DEFAULT_CALLBACK_SETTINGS.backoffBaseMs, 1, 3_600_000),
  CALLBACK_BACKOFF_MAX_MS: ms(DEFAULT_CALLBACK_SETTINGS.backoffMaxMs, 1, 86_400_000),
  CALLBACK_RETRY_WINDOW_MS: ms(DEFAULT_CALLBACK_SETTINGS.retryWindowMs, 0, 7 * 86_400_000),
  CALLBACK_TIMEOUT_MS: ms(DEFAULT_CALLBACK_SETTINGS.timeoutMs, 100, 120_000),
  CALLBACK_POLL_INTERVAL_MS: ms(DEFAULT_CALLBACK_SETTINGS.pollIntervalMs, 10, 60_000),
});

/** Reads the callback settings from the environment; a bad value stops the service, naming the variable. */
export function callbackSettingsFromEnv(env: Record<string, string | undefined> = process.env): CallbackSettings {
  const parsed = CallbackEnv.safeParse(env);
  if (!parsed.success) throw new Error(`invalid completion-callback configuration: ${z.prettifyError(parsed.error)}`);
  const e = parsed.data;
  return {
    backoffBaseMs: e.CALLBACK_BACKOFF_BASE_MS,
    backoffMaxMs: e.CALLBACK_BACKOFF_MAX_MS,
    retryWindowMs: e.CALLBACK_RETRY_WINDOW_MS,
    timeoutMs: e.CALLBACK_TIMEOUT_MS,
    pollIntervalMs: e.CALLBACK_POLL_INTERVAL_MS,
  };
}

/**
 * The delay before attempt `attempt + 1` after attempt `attempt` failed: the base doubled for
 * each attempt made, capped, then "equal jitter" (between half and all of it) so receivers
 * that came back are not hit by every sender at once.
 */
export function retryDelayMs(attempt: number, settings: Pick<CallbackSettings, "backoffBaseMs" | "backoffMaxMs">, random: () => number = Math.random): number {
  const exponential = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(exponential / 2 + (exponential / 2) * random());
}
