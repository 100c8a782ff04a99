import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Bus } from "@galaxy/bus";
import { parseEvent, type Agent, type EventActor, type TypedEvent } from "@galaxy/contracts";
import type { StoredEvent } from "@galaxy/bus";
import { appendToChain, GENESIS_HEAD, type HashedAuditEntry } from "../../src/chain/chain";
import { toHashedEntry } from "../../src/audit-log/audit-log.repository";
import type { AuditRow } from "./audit-log-fixtures";

/** The user the test events are made by. */
export const USER = "0190a1b2-0000-7000-8000-0000000000aa";

export function agentOf(workspaceId: string, name = "Support bot"): Agent {
  return {
    id: randomUUID(),
    workspaceId,
    name,
    description: null,
    provider: "openai",
    model: "galaxy-dev-echo",
    systemPrompt: "Be kind.",
    temperature: 0.5,
    maxTokens: null,
    tools: [],
    knowledgeBaseIds: [],
    inputSchema: null,
    outputSchema: null,
    timeoutMs: null,
    notifyUrl: null,
    status: "draft",
    version: 1,
    createdBy: USER,
    createdAt: "2025-01-02T03:04:05.678Z",
    updatedAt: "2025-01-02T03:04:05.678Z",
  };
}

export interface PublishOptions {
  actor?: EventActor;
  occurredAt?: string;
  claim?: string;
  clientIp?: string;
  userAgent?: string;
  traceparent?: string;
}

export function parsedEvent(event: StoredEvent): TypedEvent {
  const parsed = parseEvent(event.payload);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.event;
}

export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function chainOf(rows: readonly AuditRow[]): HashedAuditEntry[] {
  return rows.map((row) => {
    const entry = toHashedEntry(row);
    if (!entry) throw new Error(`row ${row.seq} is not an entry`);
    return entry;
  });
}

/** A made-up chain of `length` entries of one workspace, from genesis. */
export function chainFor(workspaceId: string, length: number): HashedAuditEntry[] {
  const entries: HashedAuditEntry[] = [];
  let head = GENESIS_HEAD;
  for (let n = 1; n <= length; n++) {
    const entry = appendToChain(head, {
      id: randomUUID(),
      workspaceId,
      actor: { type: "service", id: "execution-worker" },
      action: "execution.completed",
      resourceType: "execution",
      resourceId: `execution-${n}`,
      changes: { before: { status: "running" }, after: { status: "completed", n } },
      ipAddress: null,
      userAgent: null,
      traceId: null,
      occurredAt: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, n)).toISOString(),
    });
    entries.push(entry);
    head = { seq: entry.seq, hash: entry.hash };
  }
  return entries;
}

const StreamMessage = z.object({
  message: z.object({ subject: z.string(), seq: z.number(), data: z.string().optional(), hdrs: z.string().optional() }).optional(),
  error: z.object({ code: z.number() }).optional(),
});

/** The dead letters on one subject of the test's DEAD_LETTERS stream, through the JetStream API. */
export async function deadLettersOn(bus: Bus, subject: string): Promise<Array<{ eventId: string; error: string; deliveries: string }>> {
  const stream = bus.stream("DEAD_LETTERS");
  const letters: Array<{ eventId: string; error: string; deliveries: string }> = [];
  for (let seq = 1; ; ) {
    const reply = await bus.rawRequest(`$JS.API.STREAM.MSG.GET.${stream}`, JSON.stringify({ seq, next_by_subj: bus.subject(subject) }));
    const parsed = StreamMessage.parse(JSON.parse(new TextDecoder().decode(reply.data)));
    if (!parsed.message) return letters;
    const payload = z.object({ id: z.string() }).parse(JSON.parse(Buffer.from(parsed.message.data ?? "", "base64").toString("utf8")));
    const headers = Buffer.from(parsed.message.hdrs ?? "", "base64").toString("utf8");
    const header = (name: string) => new RegExp(`^${name}: (.*?)\\r?$`, "im").exec(headers)?.[1] ?? "";
    letters.push({ eventId: payload.id, error: header("Gx-Dlq-Error"), deliveries: header("Gx-Dlq-Deliveries") });
    seq = parsed.message.seq + 1;
  }
}
