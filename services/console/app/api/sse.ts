import type { GalaxyClient } from "./client";

export interface SseFrame {
  id?: string;
  event: string;
  data: string;
}

/** Splits complete `text/event-stream` blocks off `buffer`; what is left is an unfinished block. */
export function takeFrames(buffer: string): { frames: SseFrame[]; rest: string } {
  const frames: SseFrame[] = [];
  const blocks = buffer.replaceAll("\r\n", "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    const frame: SseFrame = { event: "message", data: "" };
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const at = line.indexOf(":");
      const field = at === -1 ? line : line.slice(0, at);
      const value = at === -1 ? "" : line.slice(at + 1).replace(/^ /, "");
      if (field === "id") frame.id = value;
      else if (field === "event") frame.event = value;
      else if (field === "data") data.push(value);
    }
    frame.data = data.join("\n");
    if (data.length > 0) frames.push(frame);
  }
  return { frames, rest };
}

/**
 * Reads `GET /api/executions/{id}/events` (with the bearer token, which `EventSource` cannot
 * send) until the server ends it after the terminal event, resuming from the last `id:` when
 * the connection drops. Resolves when the stream ended normally.
 */
export async function streamExecutionEvents(client: GalaxyClient, executionId: string, onFrame: (frame: SseFrame) => void, signal: AbortSignal): Promise<void> {
  let lastId: string | undefined;
  const maxReconnects = 20;
  for (let attempt = 0; attempt <= maxReconnects && !signal.aborted; attempt++) {
    try {
      const response = await client.fetch(`/api/executions/${executionId}/events`, {
        accept: "text/event-stream",
        signal,
        ...(lastId ? { headers: { "last-event-id": lastId } } : {}),
      });
      const reader = response.body?.getReader();
      if (!reader) return;
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        const { frames, rest } = takeFrames(buffer);
        buffer = rest;
        for (const frame of frames) {
          if (frame.id) lastId = frame.id;
          onFrame(frame);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      // A 4xx will not get better; a dropped connection or an outage is retried after a pause.
      if (error instanceof Error && "status" in error && typeof error.status === "number" && error.status >= 400 && error.status < 500) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** attempt)));
    }
  }
}

/**
 * Follows `GET /api/executions/stream` (the workspace's execution status changes) until
 * `signal` aborts. The server ends a stream when the token expires or after 15 minutes, and
 * connections drop: each time it connects again, after a pause that grows while it fails, and
 * each new stream starts with `ready` (read the list again: nothing missed is replayed).
 * `onState` says whether the stream is up.
 */
export async function followExecutionChanges(
  client: GalaxyClient,
  query: { agentId?: string | undefined },
  onFrame: (frame: SseFrame) => void,
  onState: (live: boolean) => void,
  signal: AbortSignal,
): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    try {
      const response = await client.fetch("/api/executions/stream", { accept: "text/event-stream", signal, query });
      const reader = response.body?.getReader();
      if (!reader) throw new Error("no stream");
      onState(true);
      const openedAt = Date.now();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const { frames, rest } = takeFrames(buffer);
        buffer = rest;
        for (const frame of frames) onFrame(frame);
      }
      // A stream that ends at once (say, a token about to expire) is not retried in a tight loop.
      failures = Date.now() - openedAt < 5_000 ? failures + 1 : 0;
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof Error && "status" in error && typeof error.status === "number" && error.status >= 400 && error.status < 500 && error.status !== 429) throw error;
      failures++;
    }
    onState(false);
    if (failures > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** Math.min(failures, 6))));
  }
}
