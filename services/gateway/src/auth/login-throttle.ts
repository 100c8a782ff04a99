import { createHash } from "node:crypto";
import type { FastifyReply } from "fastify";
import type { Redis, Result } from "ioredis";
import { z } from "zod";
import { GalaxyError, UnavailableError } from "@galaxy/contracts";

/** How many logins may fail before the next is refused, and for how long (docs/security.md). */
export interface LoginThrottleLimits {
  /** Failed logins per email address within the window. */
  perEmail: number;
  /** Failed logins per client IP within the window, whatever the emails. */
  perIp: number;
  /** The fixed window, in seconds, counted from the first failure. */
  windowS: number;
}

export const LOGIN_THROTTLE: LoginThrottleLimits = { perEmail: 5, perIp: 20, windowS: 15 * 60 };

// Counts an attempt on every key and returns each count with its remaining window. The window
// starts at a key's first attempt (a fixed window) and is not extended by later ones.
const COUNT_ATTEMPT = `
local out = {}
for _, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    redis.call('EXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out`;

const Counts = z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]);

/** A login attempt already counted; settle it with what the login answered. */
export interface LoginAttempt {
  /** The password was right: the email's failures are forgotten, the attempt uncounted. */
  succeeded(): Promise<void>;
  /** Email or password was wrong: the attempt stays counted; `RateLimit-*` headers say what is left. */
  failed(reply: FastifyReply): void;
  /** Nothing was decided (the service did not answer): the attempt is uncounted. */
  undecided(): Promise<void>;
}

export class LoginThrottledError extends GalaxyError {
  constructor(retryAfterS: number) {
    super(429, "login_throttled", `Too many failed logins; try again in ${retryAfterS} s`);
    this.name = "LoginThrottledError";
  }
}

// The script as a command of the connection: ioredis sends it by its SHA, and its text when Redis has not seen it yet.
declare module "ioredis" {
  interface RedisCommander<Context> {
    galaxyCountLoginAttempt(emailKey: string, ipKey: string, windowS: string): Result<unknown, Context>;
  }
}

/**
 * Throttles password guessing (docs/api.md: 429 with `Retry-After`): at most `perEmail`
 * failed logins per email and `perIp` per client IP in a fixed window, counted in Redis so
 * every gateway instance shares them. Each attempt is counted before the password is
 * checked, so a burst of parallel guesses cannot slip past the limit; a success forgets the
 * email's failures and takes its own attempt back from the IP's count (a success never
 * clears the IP's count: one valid account must not reset the limit for guessing others).
 */
export class LoginThrottle {
  constructor(private readonly redis: Redis, private readonly limits: LoginThrottleLimits = LOGIN_THROTTLE) {
    redis.defineCommand("galaxyCountLoginAttempt", { numberOfKeys: 2, lua: COUNT_ATTEMPT });
  }

  /** Counts the attempt; throws a 429 (with `Retry-After` and `RateLimit-*` set on `reply`) when over a limit. */
  async begin(email: string, ip: string, reply: FastifyReply): Promise<LoginAttempt> {
    const emailKey = `login:email:${createHash("sha256").update(email.toLowerCase()).digest("hex")}`;
    const ipKey = `login:ip:${ip}`;
    const [emailCount, emailTtl, ipCount, ipTtl] = await this.count(emailKey, ipKey);
    const over = [
      ...(emailCount > this.limits.perEmail ? [{ limit: this.limits.perEmail, ttl: emailTtl }] : []),
      ...(ipCount > this.limits.perIp ? [{ limit: this.limits.perIp, ttl: ipTtl }] : []),
    ];
    const undo = async (keys: string[]) => {
      await Promise.all(keys.map((key) => this.redis.decr(key))).catch(() => undefined);
    };
    if (over.length > 0) {
      // A refused attempt checked no password: it is no failure, and is not counted as one.
      await undo([emailKey, ipKey]);
      const wait = Math.max(1, ...over.map((o) => o.ttl));
      setHeaders(reply, Math.min(...over.map((o) => o.limit)), 0, wait);
      reply.header("retry-after", String(wait));
      throw new LoginThrottledError(wait);
    }
    return {
      succeeded: async () => {
        await Promise.all([this.redis.del(emailKey), undo([ipKey])]).catch(() => undefined);
      },
      failed: (reply) => {
        const emailLeft = this.limits.perEmail - emailCount;
        const ipLeft = this.limits.perIp - ipCount;
        if (emailLeft <= ipLeft) setHeaders(reply, this.limits.perEmail, emailLeft, emailTtl);
        else setHeaders(reply, this.limits.perIp, ipLeft, ipTtl);
      },
      undecided: () => undo([emailKey, ipKey]),
    };
  }

  private async count(emailKey: string, ipKey: string): Promise<[number, number, number, number]> {
    let raw: unknown;
    try {
      raw = await this.redis.galaxyCountLoginAttempt(emailKey, ipKey, String(this.limits.windowS));
    } catch (error) {
      // Failing closed: without its counters, the gateway cannot tell guessing from logging in.
      throw new UnavailableError("Login is unavailable for a moment; retry shortly", { cause: error });
    }
    return Counts.parse(raw);
  }
}

function setHeaders(reply: FastifyReply, limit: number, remaining: number, resetS: number): void {
  reply.header("ratelimit-limit", String(limit));
  reply.header("ratelimit-remaining", String(Math.max(0, remaining)));
  reply.header("ratelimit-reset", String(Math.max(0, resetS)));
}
