import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import { z } from "zod";
import { GalaxyError, UnavailableError } from "@galaxy/contracts";
import type { Authenticator } from "../auth/principal";

export const RATE_TIERS = ["free", "pro", "enterprise"] as const;
export type RateTier = (typeof RATE_TIERS)[number];

/** Requests per window for a workspace, and for each credential (an API key, or a user) in it. */
export interface RateLimits {
  workspace: number;
  credential: number;
}

export interface ApiRateLimitOptions {
  windowS: number;
  tiers: Record<RateTier, RateLimits>;
}

/** The default limits of `/api/*` per minute, by the workspace's tier (docs/api.md, Rate limits). */
export const API_RATE_LIMITS: ApiRateLimitOptions = {
  windowS: 60,
  tiers: {
    free: { workspace: 600, credential: 300 },
    pro: { workspace: 3_000, credential: 1_200 },
    enterprise: { workspace: 15_000, credential: 6_000 },
  },
};

/** The Redis hash of workspace id → rate tier; a workspace that has none is `free`. */
export const RATE_TIERS_KEY = "ratelimit:tiers";

/** How long the limiter waits for Redis before it answers 503 rather than holding the request. */
const REDIS_TIMEOUT_MS = 1_000;

/**
 * One round trip per request: the workspace's tier and both counters of the current fixed
 * window, each set to expire with its window when it is first counted.
 */
const COUNT_REQUEST = `
local tier = redis.call('HGET', KEYS[1], ARGV[1])
local ws = redis.call('INCR', KEYS[2])
if ws == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
local credential = redis.call('INCR', KEYS[3])
if credential == 1 then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
return {tier or '', ws, credential}`;
const COUNT_REQUEST_SHA = createHash("sha1").update(COUNT_REQUEST).digest("hex");

const Counted = z.tuple([z.string(), z.number().int(), z.number().int()]);

export class RateLimitedError extends GalaxyError {
  constructor(scope: "workspace" | "API key" | "user", retryAfterS: number) {
    super(429, "rate_limited", `Too many requests for this ${scope}; retry in ${retryAfterS} s`, { details: { retryAfter: String(retryAfterS) } });
    this.name = "RateLimitedError";
  }
}

async function withTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${REDIS_TIMEOUT_MS} ms`)), REDIS_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Rate limits across `/api/*`, shared by every gateway through Redis: each authenticated
 * request counts against its workspace and its credential (the API key, or the user) in a
 * fixed window, with limits by the workspace's tier. Every answer says where the narrower of
 * the two stands (`RateLimit-Limit`, `-Remaining`, `-Reset`); past either, 429 `rate_limited`
 * with `Retry-After`. Without Redis the limiter cannot count, and answers 503 (fails closed).
 * Public operations (sign-up, login, the key set) are not counted here: login has its own
 * throttle, and signed deliveries theirs.
 */
export class ApiRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly auth: Authenticator,
    private readonly options: ApiRateLimitOptions = API_RATE_LIMITS,
  ) {}

  install(app: FastifyInstance): void {
    app.addHook("preHandler", async (request, reply) => {
      if (!(request.routeOptions.url ?? "").startsWith("/api/")) return;
      const security = request.routeOptions.schema?.security;
      if (Array.isArray(security) && security.length === 0) return;
      await this.count(request, reply);
    });
  }

  private async count(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // The handler authenticates again; the credential's claim is cached by then.
    const principal = await this.auth.authenticate(request);
    const window = Math.floor(Date.now() / 1000 / this.options.windowS);
    const resetS = Math.max(1, (window + 1) * this.options.windowS - Math.floor(Date.now() / 1000));
    const credential = `${principal.kind}:${principal.userId}`;
    const keys = [RATE_TIERS_KEY, `ratelimit:ws:${principal.workspaceId}:${window}`, `ratelimit:cred:${principal.workspaceId}:${credential}:${window}`];
    let counted: z.infer<typeof Counted>;
    try {
      if (this.redis.status !== "ready") throw new Error(`Redis is ${this.redis.status}`);
      counted = Counted.parse(await withTimeout(this.evaluate(keys, principal.workspaceId)));
    } catch (error) {
      request.log.warn({ err: error }, "rate limiter could not count a request");
      throw new UnavailableError("Galaxy cannot count requests for a moment; retry shortly", { cause: error });
    }
    const [tierName, workspaceCount, credentialCount] = counted;
    const tier: RateTier = (RATE_TIERS as readonly string[]).includes(tierName) ? (tierName as RateTier) : "free";
    const limits = this.options.tiers[tier];
    const workspaceLeft = limits.workspace - workspaceCount;
    const credentialLeft = limits.credential - credentialCount;
    const narrower = workspaceLeft < credentialLeft ? { limit: limits.workspace, left: workspaceLeft } : { limit: limits.credential, left: credentialLeft };
    reply.header("ratelimit-limit", String(narrower.limit));
    reply.header("ratelimit-remaining", String(Math.max(0, narrower.left)));
    reply.header("ratelimit-reset", String(resetS));
    if (narrower.left < 0) {
      reply.header("retry-after", String(resetS));
      const byWorkspace = workspaceLeft < credentialLeft;
      // A credential refused by its own limit does not use up its workspace's: one busy key must not stop the others.
      if (!byWorkspace) await this.redis.decr(keys[1] ?? "").catch(() => undefined);
      throw new RateLimitedError(byWorkspace ? "workspace" : principal.kind === "api_key" ? "API key" : "user", resetS);
    }
  }

  private async evaluate(keys: string[], workspaceId: string): Promise<unknown> {
    const args = [...keys, workspaceId, String(this.options.windowS)];
    try {
      return await this.redis.evalsha(COUNT_REQUEST_SHA, keys.length, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return this.redis.eval(COUNT_REQUEST, keys.length, ...args);
    }
  }
}
