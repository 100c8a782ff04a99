import { createHash } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Redis, Result } from "ioredis";
import { z } from "zod";
import type { Bus } from "@galaxy/bus";
import { inSpan } from "@galaxy/observability";
import {
  assertStorable, ConflictError, deliveryEventId, deliveryExecutionId, EVENT_CATALOG, GalaxyError, parseEvent, UnauthorizedError, UnavailableError, UnsupportedMediaTypeError, Uuid, ValidationError,
  type ResolvedTrigger, type WebhookReceived,
} from "@galaxy/contracts";
import { verifyWebhook, WEBHOOK_REFUSALS } from "@galaxy/webhooks";
import { CredentialCache } from "../auth/credential-cache";
import { checkDeliveryBody } from "../hooks/body-schema";
import { DeliveryLog } from "../hooks/delivery-log";
import { recordDeliveries } from "../hooks/record-deliveries";
import type { RouteDeps } from "./deps";

/** The largest delivery accepted (docs/webhooks.md: 413 above 1 MiB). */
const HOOK_BODY_LIMIT = 1024 * 1024;

/** The headers of a delivery that travel with it into the event. */
const KEPT_HEADERS = ["webhook-id", "webhook-timestamp", "content-type", "user-agent"] as const;
const JSON_MEDIA_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

/** Deliveries each trigger may make per window, counted in Redis across every gateway. */
export interface HookRateLimit {
  limit: number;
  windowS: number;
}

/** The default: 600 deliveries a minute per trigger (`WEBHOOK_RATE_LIMIT`, `WEBHOOK_RATE_WINDOW_S`). */
export const HOOK_RATE_LIMIT: HookRateLimit = { limit: 600, windowS: 60 };

export interface HookRouteOptions {
  redis: Redis;
  rateLimit?: HookRateLimit | undefined;
}

export class WebhookRateLimitedError extends GalaxyError {
  constructor(retryAfterS: number) {
    super(429, "webhook_rate_limited", `Too many deliveries to this trigger; retry in ${retryAfterS} s`);
    this.name = "WebhookRateLimitedError";
  }
}

export class TriggerAgentNotActiveError extends ConflictError {
  constructor(agentId: string, status: string) {
    super("agent_not_active", `The trigger's agent ${agentId} is ${status}; activate it to accept deliveries`);
    this.name = "TriggerAgentNotActiveError";
  }
}

/** A resolved trigger in the cache; `expiresAt` (Unix s) is when its previous secret stops verifying, or far ahead. */
interface CachedTrigger {
  trigger: ResolvedTrigger;
  expiresAt: number;
}

const FAR_FUTURE_S = 4_102_444_800;
/** How long a resolved trigger is kept without news of a change (a missed invalidation heals in this time). */
const TRIGGER_MAX_AGE_MS = 10_000;

const Accepted = z.object({ data: z.object({ executionId: Uuid }) });

/**
 * `POST /hooks/{triggerId}`: signed webhook deliveries that run an agent (docs/webhooks.md). The
 * body is kept raw for the signature (this plugin's content-type parser applies to this route
 * alone). A delivery is checked (JSON, trigger, signature, agent, rate) and then published as
 * `evt.<ws>.webhook.received`; the 202 is sent only once JetStream has stored it, so the
 * stream is the inbox and the gateway keeps no table. Its execution id is derived from the
 * trigger and the `webhook-id`: a repeat answers the same id, and the execution-worker
 * creates that execution once.
 */
export function hookRoutes({ bus }: RouteDeps, options: HookRouteOptions): FastifyPluginAsyncZod {
  const triggers = new TriggerCache(bus);
  const rate = options.rateLimit ?? HOOK_RATE_LIMIT;
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: HOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));
    options.redis.defineCommand("galaxyCountDelivery", { numberOfKeys: 1, lua: COUNT_DELIVERY });
    const log = new DeliveryLog(options.redis, app.log);
    recordDeliveries(app, log, async (triggerId) => (await triggers.get(triggerId)).workspaceId);
    app.addHook("onClose", () => log.flush());

    app.post(
      "/hooks/:triggerId",
      {
        bodyLimit: HOOK_BODY_LIMIT,
        schema: {
          tags: ["webhooks"], operationId: "deliverWebhook",
          summary: "Deliver a signed webhook to a trigger; its JSON body becomes the input of one execution",
          description:
            "Standard Webhooks: `webhook-id`, `webhook-timestamp` (Unix seconds, within 5 minutes) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}` under the trigger's secret; several, space-separated, during a rotation). 202 once the delivery is durably stored; the same `webhook-id` again answers the same `executionId` and never starts a second execution. 400 not JSON (`malformed_json`), or JSON that cannot be stored: a NUL character or a lone surrogate in a string or key, a number out of range, nesting deeper than 64 (`invalid_value`), or JSON that fails the agent's `inputSchema` (`input_invalid`, `details` naming the first 20 bad fields `body.<path>`; `input_schema_unusable` when the schema cannot be compiled); 401 bad or missing signature or stale timestamp; 404 unknown or deleted trigger; 409 agent not active; 413 body over 1 MiB; 415 not `application/json`; 429 past the trigger's rate limit; 503 the bus is unreachable (nothing stored; retry after `Retry-After`), or `message_too_large`: the body is larger than the bus's NATS server carries even gzipped, which only a server set below NATS's 1 MB default does (nothing stored; retrying cannot help).",
          security: [],
          params: z.object({ triggerId: Uuid }),
          response: { 202: Accepted },
        },
      },
      async (request, reply) => {
        const { triggerId } = request.params;
        // The intake in a span of its own, child of the request's: the delivery event continues it.
        return inSpan("webhook intake", { traceparent: request.traceparent }, { attributes: { "galaxy.trigger.id": triggerId } }, async (traceparent, span) => {
          if (!JSON_MEDIA_TYPE.test(single(request.headers["content-type"]) ?? "")) {
            throw new UnsupportedMediaTypeError("Send the delivery as JSON with `content-type: application/json`");
          }
          const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          const trigger = await triggers.get(triggerId);
          const verdict = verifyWebhook(
            trigger.secrets,
            { id: single(request.headers["webhook-id"]), timestamp: single(request.headers["webhook-timestamp"]), signature: single(request.headers["webhook-signature"]) },
            raw,
            Math.floor(Date.now() / 1000),
          );
          if (!verdict.ok) {
            const refusal = WEBHOOK_REFUSALS[verdict.reason];
            throw new UnauthorizedError(refusal.message, refusal.code);
          }
          let body: unknown;
          try {
            body = JSON.parse(raw.toString("utf8"));
          } catch {
            throw new ValidationError("The body is not valid JSON", { body: "not valid JSON" }, "malformed_json");
          }
          // Refused before the 202: what Postgres cannot store would be accepted and then lost.
          assertStorable(body, "body");
          if (trigger.agentStatus !== "active") throw new TriggerAgentNotActiveError(trigger.agentId, trigger.agentStatus);
          await countDelivery(options.redis, triggerId, rate, reply);
          // So would a body no execution can start from. Counted first: the agent's schema is the
          // tenant's, and checking a large body against it costs the gateway's time.
          checkDeliveryBody(trigger, body);

          const executionId = deliveryExecutionId(triggerId, verdict.id);
          const data: WebhookReceived = {
            triggerId,
            agentId: trigger.agentId,
            webhookId: verdict.id,
            executionId,
            body,
            bodySha256: createHash("sha256").update(raw).digest("hex"),
            bodySize: raw.length,
            headers: keptHeaders(request),
            receivedAt: new Date().toISOString(),
          };
          span.setAttribute("galaxy.execution.id", executionId);
          await publishDelivery(bus, request, trigger, data, traceparent);
          reply.status(202);
          return { data: { executionId } };
        });
      },
    );
  };
}

/**
 * Stores the delivery in `EVENTS`, with the gateway's service claim for the trigger's
 * workspace (a delivery has no caller credential; its signature was checked above). Throws
 * 503 without publishing when the bus is down: a publish while reconnecting would only be
 * buffered, and might be stored after the sender was told it was not.
 */
async function publishDelivery(bus: Bus, request: FastifyRequest, trigger: ResolvedTrigger, data: WebhookReceived, traceparent: string | undefined): Promise<void> {
  if (!bus.isConnected()) throw new UnavailableError("The event bus is unreachable; the delivery was not stored, retry it");
  const workspaceId = trigger.workspaceId;
  const claim = await bus.serviceClaims.get(workspaceId);
  const id = deliveryEventId(data.triggerId, data.webhookId);
  const entry = EVENT_CATALOG["webhook.received"];
  const userAgent = single(request.headers["user-agent"]);
  await bus.publishEvent({
    id,
    workspaceId,
    type: "webhook.received",
    schemaVersion: entry.schemaVersion,
    payload: { id, type: "webhook.received", occurredAt: data.receivedAt, workspaceId, actor: { type: "service", id: bus.service }, data },
    context: { claim, traceparent, correlationId: request.id, causationId: request.id, clientIp: request.ip, userAgent },
  });
}

// Counts a delivery in its trigger's fixed window and returns the count and the window's remaining seconds.
const COUNT_DELIVERY = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`;

const Counted = z.tuple([z.number().int(), z.number().int()]);

// The script as a command of the connection: ioredis sends it by its SHA, and its text when Redis has not seen it yet.
declare module "ioredis" {
  interface RedisCommander<Context> {
    galaxyCountDelivery(key: string, windowS: string): Result<unknown, Context>;
  }
}

/** Counts the delivery against its trigger's limit and sets `RateLimit-*`; past the limit, 429 with `Retry-After`. */
async function countDelivery(redis: Redis, triggerId: string, limit: HookRateLimit, reply: FastifyReply): Promise<void> {
  let counted: [number, number];
  try {
    counted = Counted.parse(await redis.galaxyCountDelivery(`hooks:rate:${triggerId}`, String(limit.windowS)));
  } catch (error) {
    // Failing closed: the sender retries, and nothing was stored.
    throw new UnavailableError("Webhook deliveries are unavailable for a moment; retry shortly", { cause: error });
  }
  const [count, ttl] = counted;
  const reset = Math.max(1, ttl);
  reply.header("ratelimit-limit", String(limit.limit));
  reply.header("ratelimit-remaining", String(Math.max(0, limit.limit - count)));
  reply.header("ratelimit-reset", String(reset));
  if (count > limit.limit) {
    reply.header("retry-after", String(reset));
    throw new WebhookRateLimitedError(reset);
  }
}

/**
 * Resolved webhook triggers (`registry.triggers.resolve`), cached in memory: dropped at once
 * when the trigger is deleted or its secret rotated, or its agent changes (core NATS
 * `evt.*.trigger.>` and `evt.*.agent.>`), on a reconnect (signals went by unseen), and after
 * `TRIGGER_MAX_AGE_MS` at most. A trigger's previous secret is not trusted past its expiry.
 */
class TriggerCache {
  private readonly cache = new CredentialCache<CachedTrigger>({ maxAgeMs: TRIGGER_MAX_AGE_MS, expiryMarginMs: 0, maxEntries: 50_000 });

  constructor(private readonly bus: Bus) {
    // These arrive without their headers, so their claims are not verified: a forged one can
    // only make this instance ask the registry again.
    bus.subscribeCore("evt.*.trigger.>", (data) => this.onEvent(data));
    bus.subscribeCore("evt.*.agent.>", (data) => this.onEvent(data));
    bus.onReconnect(() => this.cache.invalidate(ANY_TRIGGER));
  }

  async get(triggerId: string): Promise<ResolvedTrigger> {
    const cached = await this.cache.get(
      triggerId,
      async () => {
        const trigger = await this.bus.request("registry.triggers.resolve", { triggerId });
        return { trigger, expiresAt: trigger.validUntil ? Math.floor(Date.parse(trigger.validUntil) / 1000) : FAR_FUTURE_S };
      },
      (value) => [ANY_TRIGGER, `trigger:${value.trigger.triggerId}`, `agent:${value.trigger.agentId}`],
    );
    return cached.trigger;
  }

  private onEvent(data: unknown): void {
    const parsed = parseEvent(data);
    if (!parsed.ok) return;
    const event = parsed.event;
    switch (event.type) {
      case "trigger.deleted":
      case "trigger.secret_rotated":
        this.cache.invalidate(`trigger:${event.data.triggerId}`);
        return;
      case "agent.activated":
        this.cache.invalidate(`agent:${event.data.agentId}`);
        return;
      default: {
        // Any other change of an agent (paused, deleted, updated): its triggers are asked again.
        const agentId = agentIdOf(event.data);
        if (event.type.startsWith("agent.") && agentId) this.cache.invalidate(`agent:${agentId}`);
      }
    }
  }
}

const ANY_TRIGGER = "triggers";

function agentIdOf(data: unknown): string | undefined {
  const parsed = z.object({ agentId: Uuid }).or(z.object({ agent: z.object({ id: Uuid }) })).safeParse(data);
  if (!parsed.success) return undefined;
  return "agentId" in parsed.data ? parsed.data.agentId : parsed.data.agent.id;
}

function keptHeaders(request: FastifyRequest): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = single(request.headers[name]);
    if (value !== undefined) kept[name] = value.slice(0, 1024);
  }
  return kept;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
