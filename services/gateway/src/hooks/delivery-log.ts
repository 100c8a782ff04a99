import type { FastifyBaseLogger } from "fastify";
import type { Redis, Result } from "ioredis";
import { z } from "zod";
import { TRIGGER_DELIVERIES_KEPT, TRIGGER_DELIVERIES_TTL_S, UnavailableError, Uuid } from "@galaxy/contracts";

/**
 * The recent deliveries of each webhook trigger, accepted and refused, in Redis
 * (docs/webhooks.md, Deliveries): a sorted set per trigger, scored by the delivery's number,
 * trimmed to the newest `TRIGGER_DELIVERIES_KEPT` and dropped a week after the last delivery.
 * The key names the workspace as well as the trigger, and only the workspace's own callers
 * read it. Recording is not awaited by the answer: a delivery never waits for, nor fails
 * because of, its log. Records wait up to `FLUSH_DELAY_MS` to be written together, in one
 * script (the answer goes out first, and a burst of deliveries costs Redis one call per flush
 * rather than one each); the plugin flushes what is left when the gateway closes.
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

// For each delivery (its list and counter in KEYS, its entry in ARGV after the two settings):
// numbers it, adds it, keeps the newest ARGV[1], and renews both keys' time to live (ARGV[2]).
const RECORD = `
local kept = tonumber(ARGV[1])
for i = 1, #KEYS / 2 do
  local list, counter = KEYS[2 * i - 1], KEYS[2 * i]
  local seq = redis.call('INCR', counter)
  local entry = string.gsub(ARGV[i + 2], '"s":0', '"s":' .. seq, 1)
  redis.call('ZADD', list, seq, entry)
  redis.call('ZREMRANGEBYRANK', list, 0, -(kept + 1))
  redis.call('EXPIRE', list, ARGV[2])
  redis.call('EXPIRE', counter, ARGV[2])
end
return #KEYS / 2`;

/** How long a record waits for others to be written with it, and the most written in one call. */
export const FLUSH_DELAY_MS = 20;
const FLUSH_MAX = 128;

const WEBHOOK_ID_KEPT = 256;

function keys(workspaceId: string, triggerId: string): [string, string] {
  return [`hooks:deliveries:${workspaceId}:${triggerId}`, `hooks:deliveries:seq:${workspaceId}:${triggerId}`];
}

// The script as a command of the connection (its keys counted per call): ioredis sends it by its SHA, and its text when Redis has not seen it yet.
declare module "ioredis" {
  interface RedisCommander<Context> {
    galaxyRecordDeliveries(numberOfKeys: number, ...keysThenArgs: string[]): Result<unknown, Context>;
  }
}

export class DeliveryLog {
  private pending: Array<{ keys: [string, string]; entry: string }> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly logger: FastifyBaseLogger,
  ) {
    redis.defineCommand("galaxyRecordDeliveries", { lua: RECORD });
  }

  /** Records a delivery in the background; a Redis outage (or a crash within `FLUSH_DELAY_MS`) loses the record, never the delivery. */
  record(workspaceId: string, triggerId: string, delivery: DeliveryRecord): void {
    const entry: StoredDelivery = {
      s: 0,
      t: Date.now(),
      w: delivery.webhookId === null ? null : delivery.webhookId.slice(0, WEBHOOK_ID_KEPT),
      h: delivery.httpStatus,
      c: delivery.code,
      e: delivery.executionId,
    };
    this.pending.push({ keys: keys(workspaceId, triggerId), entry: JSON.stringify(entry) });
    if (this.pending.length >= FLUSH_MAX) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
  }

  /** Writes the records waiting, in one script; a failure is logged and the records dropped. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.redis.galaxyRecordDeliveries(batch.length * 2, ...batch.flatMap((record) => record.keys), String(TRIGGER_DELIVERIES_KEPT), String(TRIGGER_DELIVERIES_TTL_S), ...batch.map((record) => record.entry));
    } catch (error) {
      this.logger.warn({ err: error, deliveries: batch.length }, "could not record webhook deliveries");
    }
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
