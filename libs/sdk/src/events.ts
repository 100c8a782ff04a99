import { errorOf } from "./errors.js";
import { TERMINAL_EVENT_TYPES, type ExecutionDelta, type ExecutionEvent } from "./types.js";

/** One item of an execution's stream: a stored event (with its seq), or a token delta. */
export type StreamItem =
  | { kind: "event"; seq: number; type: string; event: ExecutionEvent }
  | { kind: "delta"; delta: ExecutionDelta };

export interface StreamOptions {
  /** Resume after this seq (an earlier stream's last `seq`); 0 or absent: from the start. */
  lastEventId?: number;
  /** Reconnections in a row without a new event before giving up (default 5). */
  maxReconnects?: number;
  signal?: AbortSignal;
}

/** Opens the stream after `lastEventId` (the client sends it as `Last-Event-ID`). */
export type OpenStream = (lastEventId: number, signal: AbortSignal | undefined) => Promise<Response>;

interface Frame {
  id?: string;
  event?: string;
  data: string[];
}

/** Splits server-sent events into frames; comments (`: keep-alive`) are dropped. */
async function* frames(body: ReadableStream<Uint8Array>): AsyncGenerator<Frame> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  let frame: Frame = { data: [] };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline = buffer.search(/\r?\n/);
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(buffer[newline] === "\r" ? newline + 2 : newline + 1);
        if (line === "") {
          if (frame.data.length > 0 || frame.event) yield frame;
          frame = { data: [] };
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") frame.id = value;
          else if (field === "event") frame.event = value;
          else if (field === "data") frame.data.push(value);
        }
        newline = buffer.search(/\r?\n/);
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

function itemOf(frame: Frame): StreamItem | undefined {
  const data: unknown = JSON.parse(frame.data.join("\n"));
  if (frame.event === "execution.delta") return { kind: "delta", delta: data as ExecutionDelta };
  if (frame.id === undefined || frame.event === undefined) return undefined;
  return { kind: "event", seq: Number(frame.id), type: frame.event, event: data as ExecutionEvent };
}

/**
 * An execution's events as an async iterator, until its terminal event (`execution.completed`,
 * `execution.failed`, `execution.cancelled`). When the connection drops first, it reconnects
 * with `Last-Event-ID` and goes on after the last event it gave, so no event is missed or
 * repeated (token deltas are live only and may be missed across a reconnect).
 */
export async function* executionEvents(open: OpenStream, options: StreamOptions = {}): AsyncGenerator<StreamItem> {
  let lastSeq = options.lastEventId ?? 0;
  const maxReconnects = options.maxReconnects ?? 5;
  let quietReconnects = 0;
  for (;;) {
    const response = await open(lastSeq, options.signal);
    if (!response.ok) throw await errorOf(response);
    if (!response.body) throw new Error("the event stream answered without a body");
    let progressed = false;
    try {
      for await (const frame of frames(response.body)) {
        const item = itemOf(frame);
        if (!item) continue;
        if (item.kind === "event") {
          if (item.seq <= lastSeq) continue;
          lastSeq = item.seq;
          progressed = true;
        }
        yield item;
        if (item.kind === "event" && TERMINAL_EVENT_TYPES.has(item.type)) return;
      }
    } catch (error) {
      // A dropped connection is resumed below; an abort by the caller is not.
      if (options.signal?.aborted) throw error;
    }
    quietReconnects = progressed ? 0 : quietReconnects + 1;
    if (quietReconnects > maxReconnects) throw new Error(`the event stream closed ${quietReconnects} times in a row without a new event`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * 2 ** quietReconnects)));
  }
}
