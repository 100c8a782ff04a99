import { z } from "zod";
import type { Bus, MessageContext, RequestContext } from "@galaxy/bus";
import { readJson, toRawMessage } from "@galaxy/bus";
import {
  CONSUMER_SERVICES, ConflictError, HEADER, NotFoundError, SYSTEM_WORKSPACE_ID, ValidationError, cursorPage, decodeCursor, encodeCursor, pagination, type DeadLetter, type DeadLetterQuery,
  type DeadLetterRedrive, type RawBusMessage, type RedriveOutcome, type ReplyData, type WorkspaceClaim,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, sql, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { isSystemOperator } from "../admin/security-incidents";
import type { AuditDb } from "../db";
import { OperatorRequiredError } from "../replay/errors";

/** The most dead letters one list reads from the stream (newest kept). */
const LIST_SCAN_LIMIT = 10_000;
// Advisory lock space for redrives, so two operators redriving one dead letter apply it once.
const REDRIVE_LOCK_SPACE = 0x646c7172; // "dlqr"
const LIST = "dead_letters";

/** A message of `DEAD_LETTERS` as the bus reads it. */
type StoredDeadLetter = NonNullable<Awaited<ReturnType<Bus["streamMessage"]>>>;

const WithId = z.object({ id: z.string() });

/**
 * The dead-letter index (docs/bus.md, "Dead letters and redrive"): reads `DEAD_LETTERS`, shows each with its error and
 * delivery count, and redrives one (or every one of a consumer and subject) back to the consumer
 * that failed it, once. Each redrive is recorded (`dead_letter_redrives`) and emits
 * `dead_letter.redriven` into the system workspace.
 */
export class DeadLettersService {
  constructor(
    private readonly deps: {
      db: Kysely<AuditDb>;
      bus: Bus;
      relay: OutboxRelay;
      logger: Logger;
      /** The consumers this process runs: their dead letters are applied here, through the bus. */
      localConsumers: readonly string[];
    },
  ) {}

  /**
   * `audit.dead_letters.list`: newest first (by stream sequence, the dead letter's id). With a
   * cursor (the last id of the page), the page is read backwards from below that id in growing
   * windows, so it costs what the first page does and letters stored meanwhile never shift it;
   * without one, the offset form with its `total` (docs/api.md, Pagination).
   *
   * @throws {InvalidCursorError} a cursor of another list or other filters
   */
  async list(claim: WorkspaceClaim, query: DeadLetterQuery): Promise<ReplyData<"audit.dead_letters.list">> {
    requireOperator(claim);
    const { limit, offset, cursor, ...filters } = query;
    const nextCursor = (last: DeadLetter) => encodeCursor(LIST, filters, last.id);
    const filter = query.consumer ? `dlq.${query.consumer}.${query.subject ?? ">"}` : "dlq.>";
    if (cursor !== undefined) {
      const belowId = decodeCursor(LIST, filters, cursor, z.number().int().min(1));
      return cursorPage(await this.newestBelow(filter, query, belowId, limit + 1), limit, nextCursor);
    }
    const letters = await this.matching(query, await this.scan(filter));
    const items = letters.slice(offset, offset + limit);
    const page = pagination(letters.length, query);
    const last = items.at(-1);
    return { items, pagination: { ...page, nextCursor: page.hasMore && last ? nextCursor(last) : null } };
  }

  /** Up to `count` dead letters matching the query with an id below `belowId` (default: all), newest first. */
  private async newestBelow(filter: string, query: DeadLetterQuery, belowId: number | undefined, count: number): Promise<DeadLetter[]> {
    const { firstSeq, lastSeq, messages } = await this.deps.bus.streamState("DEAD_LETTERS");
    if (messages === 0) return [];
    const out: DeadLetter[] = [];
    let end = Math.min(lastSeq, (belowId ?? lastSeq + 1) - 1);
    // Windows grow fourfold up to the scan limit, so a sparse filter takes few reads; each read stops at its window's end.
    for (let window = Math.min(Math.max(count * 4, 256), LIST_SCAN_LIMIT); end >= firstSeq && out.length < count; window = Math.min(window * 4, LIST_SCAN_LIMIT)) {
      const start = Math.max(firstSeq, end - window + 1);
      out.push(...(await this.matching(query, await this.scan(filter, start, end))));
      end = start - 1;
    }
    return out.slice(0, count);
  }

  /** The stored letters (oldest first) with their redrives, those the query asks for, newest first. */
  private async matching(query: DeadLetterQuery, stored: StoredDeadLetter[]): Promise<DeadLetter[]> {
    const redrives = await this.redrives(stored.map((s) => s.seq));
    let letters = stored.map((s) => toDeadLetter(s, redrives.get(s.seq) ?? null));
    if (query.subject && !query.consumer) letters = letters.filter((l) => l.subject === query.subject);
    if (query.redriven !== undefined) letters = letters.filter((l) => (l.redrive?.outcome === "applied") === query.redriven);
    return letters.reverse();
  }

  /** `audit.dead_letters.get`. @throws {NotFoundError} `dead_letter_not_found` */
  async get(claim: WorkspaceClaim, id: number): Promise<DeadLetter> {
    requireOperator(claim);
    const stored = await this.read(id);
    const redrives = await this.redrives([id]);
    return toDeadLetter(stored, redrives.get(id) ?? null);
  }

  /**
   * `audit.dead_letters.redrive`: hands the dead letter back to the consumer that failed it.
   *
   * @throws {NotFoundError} `dead_letter_not_found`
   * @throws {ConflictError} `dead_letter_redriven`: it was applied by an earlier redrive
   */
  async redrive(claim: WorkspaceClaim, id: number, ctx: Pick<RequestContext, "traceparent" | "correlationId">): Promise<DeadLetterRedrive> {
    requireOperator(claim);
    const stored = await this.read(id);
    const context = await this.eventContext(ctx);
    const { result, events } = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, async (tx) => {
      await sql`select pg_advisory_xact_lock(${REDRIVE_LOCK_SPACE}::int, ${id}::int)`.execute(tx);
      const earlier = await tx.selectFrom("dead_letter_redrives").select(["outcome"]).where("dead_letter_seq", "=", id).executeTakeFirst();
      if (earlier?.outcome === "applied") throw new ConflictError("dead_letter_redriven", `dead letter ${id} was redriven and applied already`);
      const letter = parseStored(stored);
      const outcome = await this.handBack(letter.consumer, letter.raw);
      await tx
        .insertInto("dead_letter_redrives")
        .values({ workspace_id: SYSTEM_WORKSPACE_ID, dead_letter_seq: id, consumer: letter.consumer, subject: letter.raw.subject, outcome: outcome.outcome, error: outcome.error, redriven_by: claim.sub })
        .onConflict((oc) => oc.columns(["workspace_id", "dead_letter_seq"]).doUpdateSet({ outcome: outcome.outcome, error: outcome.error, redriven_by: claim.sub, redriven_at: new Date() }))
        .execute();
      const event: OutboxRow = await appendEvent(tx, {
        type: "dead_letter.redriven",
        workspaceId: SYSTEM_WORKSPACE_ID,
        actor: { type: "operator", id: claim.sub },
        data: { deadLetterId: id, consumer: letter.consumer, subject: letter.raw.subject, outcome: outcome.outcome },
        context,
      });
      return { result: { id, ...outcome }, events: [event] };
    });
    this.deps.relay.publishNow(events);
    return result;
  }

  /** `audit.dead_letters.redrive_many`: every dead letter of the consumer (and subject) not applied yet, oldest first. */
  async redriveMany(claim: WorkspaceClaim, body: { consumer: string; subject?: string | undefined }, ctx: Pick<RequestContext, "traceparent" | "correlationId">): Promise<ReplyData<"audit.dead_letters.redrive_many">> {
    requireOperator(claim);
    // A consumer Galaxy does not have is a mistake (a typo), not a consumer with nothing to redrive.
    if (!Object.hasOwn(CONSUMER_SERVICES, body.consumer)) {
      throw new ValidationError(`Galaxy has no consumer ${body.consumer}`, { consumer: `one of ${Object.keys(CONSUMER_SERVICES).join(", ")}` }, "unknown_consumer");
    }
    const stored = await this.scan(`dlq.${body.consumer}.${body.subject ?? ">"}`);
    const redrives = await this.redrives(stored.map((s) => s.seq));
    const redriven: DeadLetterRedrive[] = [];
    for (const letter of stored) {
      if (redrives.get(letter.seq)?.outcome === "applied") continue;
      try {
        redriven.push(await this.redrive(claim, letter.seq, ctx));
      } catch (error) {
        if (error instanceof ConflictError) continue;
        throw error;
      }
    }
    return { redriven };
  }

  /** Applies a dead letter through its consumer: here when this process runs it, else through its service's request. */
  private async handBack(consumer: string, raw: RawBusMessage): Promise<{ outcome: RedriveOutcome; error: string | null }> {
    if (this.deps.localConsumers.includes(consumer)) {
      try {
        await this.deps.bus.deliver(consumer, raw);
        return { outcome: "applied", error: null };
      } catch (error) {
        return { outcome: "failed", error: error instanceof Error ? error.message : String(error) };
      }
    }
    const service = CONSUMER_SERVICES[consumer];
    if (service === undefined || service === "audit") throw new ValidationError(`no service redrives dead letters of ${consumer}`, { consumer: "unknown consumer" }, "unknown_consumer");
    const options = { claim: await this.deps.bus.serviceClaims.get(SYSTEM_WORKSPACE_ID), workspaceId: SYSTEM_WORKSPACE_ID, timeoutMs: 30_000 };
    return this.deps.bus.request(`${service}.dlq.redrive`, { consumer, message: raw }, options);
  }

  private async read(id: number): Promise<StoredDeadLetter> {
    const stored = await this.deps.bus.streamMessage("DEAD_LETTERS", id);
    if (!stored) throw new NotFoundError("dead letter", String(id));
    return stored;
  }

  /** Every dead letter under `filter` from `fromSeq` through `throughSeq` (default: the whole stream now, the newest 10,000 kept), oldest first. */
  private async scan(filter: string, fromSeq?: number, throughSeq?: number): Promise<StoredDeadLetter[]> {
    const state = await this.deps.bus.streamState("DEAD_LETTERS");
    const lastSeq = Math.min(state.lastSeq, throughSeq ?? state.lastSeq);
    if (state.messages === 0 || lastSeq < 1) return [];
    const reader = await this.deps.bus.orderedReader("DEAD_LETTERS", { filter, fromSeq });
    if ((await reader.info()).num_pending === 0) return [];
    const out: StoredDeadLetter[] = [];
    const messages = await reader.consume({ max_messages: 512 });
    try {
      for await (const msg of messages) {
        if (msg.seq > lastSeq) break;
        out.push({ seq: msg.seq, subject: this.deps.bus.unprefixed(msg.subject), time: msg.time, headers: msg.headers, data: msg.data });
        if (out.length > LIST_SCAN_LIMIT) out.shift();
        if (msg.info.pending === 0 || msg.seq >= lastSeq) break;
      }
    } finally {
      await messages.close().catch(() => undefined);
    }
    return out;
  }

  private async redrives(ids: number[]): Promise<Map<number, NonNullable<DeadLetter["redrive"]>>> {
    if (ids.length === 0) return new Map();
    const rows = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, (tx) =>
      tx.selectFrom("dead_letter_redrives").selectAll().where("dead_letter_seq", "in", ids).execute(),
    );
    return new Map(rows.map((r) => [Number(r.dead_letter_seq), { outcome: r.outcome === "applied" ? "applied" : "failed", error: r.error, at: r.redriven_at.toISOString(), by: r.redriven_by }]));
  }

  private async eventContext(ctx: Pick<RequestContext, "traceparent" | "correlationId">): Promise<MessageContext> {
    return { claim: await this.deps.bus.serviceClaims.get(SYSTEM_WORKSPACE_ID), traceparent: ctx.traceparent, correlationId: ctx.correlationId, causationId: ctx.correlationId };
  }
}

/** The consumer that failed a dead letter, and the message as that consumer first saw it. */
function parseStored(stored: StoredDeadLetter): { consumer: string; raw: RawBusMessage; deliveries: number; error: string } {
  const h = (key: string) => stored.headers?.get(key) || undefined;
  // dlq.<consumer>.<original subject>
  const [, fromSubject, ...rest] = stored.subject.split(".");
  const consumer = h(HEADER.dlqConsumer) ?? fromSubject ?? "";
  const subject = h(HEADER.dlqSubject) ?? rest.join(".");
  // The dead letter's id is `<consumer>:<stream>:<seq>`: the original's place in EVENTS.
  const originalSeq = Number(/:(\d+)$/.exec(h(HEADER.msgId) ?? "")?.[1] ?? stored.seq);
  return {
    consumer,
    raw: toRawMessage(subject, originalSeq, stored.headers, stored.data),
    deliveries: Number(h(HEADER.dlqDeliveries) ?? 0),
    error: h(HEADER.dlqError) ?? "",
  };
}

function toDeadLetter(stored: StoredDeadLetter, redrive: DeadLetter["redrive"]): DeadLetter {
  const letter = parseStored(stored);
  const headers: Record<string, string> = {};
  if (stored.headers) for (const key of stored.headers.keys()) headers[key] = key === HEADER.claim ? "(redacted)" : (stored.headers.get(key) ?? "");
  const json = readJson(stored.headers, stored.data);
  // Not JSON: shown as text.
  const payload = json.ok ? json.value : new TextDecoder().decode(stored.data);
  const withId = WithId.safeParse(payload);
  return {
    id: stored.seq,
    consumer: letter.consumer,
    subject: letter.raw.subject,
    workspaceId: headers[HEADER.workspaceId] ?? null,
    eventId: withId.success ? withId.data.id : null,
    eventType: headers[HEADER.eventType] ?? null,
    error: letter.error,
    deliveries: letter.deliveries,
    failedAt: stored.time.toISOString(),
    headers,
    payload,
    redrive,
  };
}

function requireOperator(claim: WorkspaceClaim): void {
  if (!isSystemOperator(claim)) throw new OperatorRequiredError();
}
