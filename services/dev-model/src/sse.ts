import { Readable } from "node:stream";
import type { FastifyReply } from "fastify";

/** One Server-Sent Event frame; `event` is omitted for OpenAI, which sends bare `data:` lines. */
export function sseFrame(data: unknown, event?: string): string {
  const payload = typeof data === "string" ? data : JSON.stringify(data);
  return `${event === undefined ? "" : `event: ${event}\n`}data: ${payload}\n\n`;
}

/** Sends `frames` as a text/event-stream, one write per frame, as a provider streams tokens. */
export function sendEventStream(reply: FastifyReply, frames: readonly string[]): FastifyReply {
  return reply
    .code(200)
    .header("content-type", "text/event-stream; charset=utf-8")
    .header("cache-control", "no-cache")
    .send(Readable.from(frames, { objectMode: false }));
}
