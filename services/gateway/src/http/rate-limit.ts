import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import { GalaxyError, UnavailableError } from "@galaxy/contracts";
import type { Authenticator } from "../auth/principal";
import { RequestLeases, workspaceCounterKey, type RequestCount } from "./request-leases";

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

export class RateLimitedError extends GalaxyError {
  constructor(scope: "workspace" | "API key" | "user", retryAfterS: number) {
    super(429, "rate_limited", `Too many requests for this ${scope}; retry in ${retryAfterS} s`, { details: { retryAfter: String(retryAfterS) } });
    this.name = "RateLimitedError";
  }
}

/**
 * Rate limits across `/api/*`, shared by every gateway through Redis: each authenticated
 * request counts against its workspace and its credential (the API key, or the user) in a
 * fixed window, with limits by the workspace's tier. Every answer says where the narrower of
 * the two stands (`RateLimit-Limit`, `-Remaining`, `-Reset`); past either, 429 `rate_limited`
 * with `Retry-After`. The counts are taken from Redis in leases (request-leases.ts). Without
 * Redis the limiter cannot count, and answers 503 (fails closed) once the counts it took are
 * handed out.
 * Public operations (sign-up, login, the key set) are not counted here: login has its own
 * throttle, and signed deliveries theirs. A request is authenticated and counted before its
 * input is checked against its schema: a caller without a credential learns nothing of the
 * input's rules (401 first), and a request refused for its input is counted like the rest.
 */
export class ApiRateLimiter {
  private readonly leases: RequestLeases;

  constructor(
    private readonly redis: Redis,
    private readonly auth: Authenticator,
    private readonly options: ApiRateLimitOptions = API_RATE_LIMITS,
  ) {
    this.leases = new RequestLeases(redis, options.windowS, (tier) => this.limitsOf(tier));
  }

  install(app: FastifyInstance): void {
    app.addHook("onClose", () => this.leases.close());
    app.addHook("preValidation", async (request, reply) => {
      if (!(request.routeOptions.url ?? "").startsWith("/api/")) return;
      const security = request.routeOptions.schema?.security;
      if (Array.isArray(security) && security.length === 0) return;
      await this.count(request, reply);
    });
  }

  private async count(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // The route's handler asks again for the same request and gets this answer.
    const principal = await this.auth.authenticate(request);
    const window = Math.floor(Date.now() / 1000 / this.options.windowS);
    const resetS = Math.max(1, (window + 1) * this.options.windowS - Math.floor(Date.now() / 1000));
    const counted = { workspaceId: principal.workspaceId, credential: `${principal.kind}:${principal.userId}`, window };
    let count: RequestCount;
    try {
      count = await this.leases.count(counted);
    } catch (error) {
      request.log.warn({ err: error }, "rate limiter could not count a request");
      throw new UnavailableError("Galaxy cannot count requests for a moment; retry shortly", { cause: error });
    }
    const limits = this.limitsOf(count.tier);
    const workspaceLeft = limits.workspace - count.workspace;
    const credentialLeft = limits.credential - count.credential;
    const narrower = workspaceLeft < credentialLeft ? { limit: limits.workspace, left: workspaceLeft } : { limit: limits.credential, left: credentialLeft };
    reply.header("ratelimit-limit", String(narrower.limit));
    reply.header("ratelimit-remaining", String(Math.max(0, narrower.left)));
    reply.header("ratelimit-reset", String(resetS));
    if (narrower.left < 0) {
      reply.header("retry-after", String(resetS));
      const byWorkspace = workspaceLeft < credentialLeft;
      // A credential refused by its own limit does not use up its workspace's: one busy key must not stop the others.
      if (!byWorkspace) await this.redis.decr(workspaceCounterKey(counted)).catch(() => undefined);
      throw new RateLimitedError(byWorkspace ? "workspace" : principal.kind === "api_key" ? "API key" : "user", resetS);
    }
  }

  private limitsOf(tier: string): RateLimits {
    return this.options.tiers[(RATE_TIERS as readonly string[]).includes(tier) ? (tier as RateTier) : "free"];
  }
}
