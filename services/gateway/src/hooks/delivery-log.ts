import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import { z } from "zod";
import { TRIGGER_DELIVERIES_KEPT, TRIGGER_DELIVERIES_TTL_S, UnavailableError, Uuid } from "@galaxy/contracts";

/**
 * The recent deliveries of each webhook trigger, accepted and refused, in Redis
 * (docs/webhooks.md, Deliveries): a sorted set per trigger, scored by the delivery's number,
 * trimmed to the newest `TRIGGER_DELIVERIES_KEPT` and dropped a week after the last delivery.
 * The key names the workspace as well as the trigger, and only the workspace's own callers
 * read it. Recording is one script, sent after the answer is decided and not awaited by it:
 * a delivery never waits for, nor fails because of, its log.
 */

/** A delivery as stored: short keys, one JSON member per delivery. */
const Stored = z.object({
  s: z.number().int().min(1),
  t: z.number().int(),
  w: z.string().nullable(),
  h: z.number().int(),
  c: z.string().nullable(),
  e: Uuid.nullable(),
});
export type StoredDelivery = z.infer<typeof Stored>;

export interface DeliveryRecord {
  webhookId: string | null;
  httpStatus: number;
  code: string | null;
  executionId: string | null;
}

// Numbers the delivery, adds it, keeps the newest ARGV[2], and renews both keys' time to live.
const RECORD = `
local seq = redis.call('INCR', KEYS[2])
local entry = string.gsub(ARGV[1], '"s":0', '"s":' .. seq, 1)
redis.call('ZADD', KEYS[1], seq, entry)
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[2]) + 1))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq`;

const WEBHOOK_ID_KEPT = 256;

function keys(workspaceId: string, triggerId: string): [string, string] {
  return [`hooks:deliveries:${workspaceId}:${triggerId}`, `hooks:deliveries:seq:${workspaceId}:${triggerId}`];
}

export class DeliveryLog {
  constructor(
    private readonly redis: Redis,
    private readonly logger: FastifyBaseLogger,
  ) {}

  /** Records a delivery in the background; a Redis outage loses the record, never the delivery. */
  record(workspaceId: string, triggerId: string, delivery: DeliveryRecord): void {
    const entry: StoredDelivery = {
      s: 0,
      t: Date.now(),
      w: delivery.webhookId === null ? null : delivery.webhookId.slice(0, WEBHOOK_ID_KEPT),
      h: delivery.httpStatus,
      c: delivery.code,
      e: delivery.executionId,
    };
    this.redis
      .eval(RECORD, 2, ...keys(workspaceId, triggerId), JSON.stringify(entry), String(TRIGGER_DELIVERIES_KEPT), String(TRIGGER_DELIVERIES_TTL_S))
      .catch((error: unknown) => this.logger.warn({ err: error, triggerId }, "could not record a webhook delivery"));
  }

  /** The newest deliveries numbered below `before` (all of them without it), newest first: `limit + 1` are read, to know whether more follow. */
  async before(workspaceId: string, triggerId: string, before: number | undefined, limit: number): Promise<StoredDelivery[]> {
    const [key] = keys(workspaceId, triggerId);
    const max = before === undefined ? "+inf" : `(${before}`;
    return parseMembers(await reading(() => this.redis.zrevrangebyscore(key, max, "-inf", "LIMIT", 0, limit + 1)));
  }

  /** A page by offset, newest first, and how many are kept. */
  async page(workspaceId: string, triggerId: string, offset: number, limit: number): Promise<{ rows: StoredDelivery[]; total: number }> {
    const [key] = keys(workspaceId, triggerId);
    const [members, total] = await reading(() => Promise.all([this.redis.zrevrange(key, offset, offset + limit - 1), this.redis.zcard(key)]));
    return { rows: parseMembers(members), total };
  }
}

async function reading<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new UnavailableError("A trigger's deliveries cannot be read for a moment; retry shortly", { cause: error });
  }
}

/** Members that are not a delivery (none are written so) are skipped rather than failing the page. */
function parseMembers(members: string[]): StoredDelivery[] {
  return members.flatMap((member) => {
    let json: unknown;
    try {
      json = JSON.parse(member);
    } catch {
      return [];
    }
    const parsed = Stored.safeParse(json);
    return parsed.success ? [parsed.data] : [];
  });
}
