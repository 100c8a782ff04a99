import type { Galaxy } from "./harness";

/** One frame of a `text/event-stream` body. */
export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  /** A comment line (`: …`), e.g. a heartbeat. */
  comment?: string;
}

/** Splits a `text/event-stream` body into frames (blank-line separated), comments kept apart. */
export function parseSse(text: string): SseFrame[] {
  const frames: SseFrame[] = [];
  for (const block of text.split("\n\n")) {
    if (block.trim() === "") continue;
    const frame: SseFrame = {};
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) frame.comment = line.slice(1).trim();
      else {
        const at = line.indexOf(":");
        const field = at === -1 ? line : line.slice(0, at);
        const value = at === -1 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (field === "id" || field === "event" || field === "data") frame[field] = value;
      }
    }
    frames.push(frame);
  }
  return frames;
}

export interface SseResponse {
  status: number;
  headers: Headers;
  /** The frames, once the server ended the stream. */
  frames: SseFrame[];
  body: string;
}

/**
 * `GET /api/executions/{id}/events` read to its end (the server closes after the terminal
 * event); `onFrame` sees each frame as it arrives. Fails after `timeoutMs` if it never ends.
 */
export async function readExecutionEvents(
  galaxy: Galaxy,
  executionId: string,
  token: string,
  options: { lastEventId?: string; timeoutMs?: number; onFrame?: (frame: SseFrame) => void } = {},
): Promise<SseResponse> {
  const response = await fetch(`${galaxy.url}/api/executions/${executionId}/events`, {
    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream", ...(options.lastEventId !== undefined ? { "last-event-id": options.lastEventId } : {}) },
    signal: AbortSignal.timeout(options.timeoutMs ?? 20_000),
  });
  if (!response.body) return { status: response.status, headers: response.headers, frames: [], body: "" };
  let text = "";
  let seen = 0;
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    text += decoder.decode(chunk, { stream: true });
    const complete = text.lastIndexOf("\n\n");
    if (complete !== -1 && options.onFrame) {
      const frames = parseSse(text.slice(0, complete + 2));
      for (const frame of frames.slice(seen)) options.onFrame(frame);
      seen = frames.length;
    }
  }
  return { status: response.status, headers: response.headers, frames: parseSse(text), body: text };
}
