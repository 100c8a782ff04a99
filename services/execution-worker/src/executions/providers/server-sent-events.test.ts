import { describe, expect, test } from "vitest";
import { EventTooLongError, serverSentEvents, type ServerSentEvent } from "./server-sent-events";

async function* chunked(...chunks: string[]): AsyncGenerator<string> {
  for (const chunk of chunks) yield chunk;
}

async function read(chunks: AsyncIterable<string>, maxChars = 1_000): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for await (const event of serverSentEvents(chunks, maxChars)) events.push(event);
  return events;
}

describe("a text/event-stream", () => {
  test("lines end with LF, CRLF or CR alone, even when a CRLF is cut between two chunks", async () => {
    expect(await read(chunked("data: a\n\n", "data: b\r\n\r\n", "data: c\r\rdata: d\r", "\n\r", "\n"))).toEqual([
      { event: "", data: "a" },
      { event: "", data: "b" },
      { event: "", data: "c" },
      { event: "", data: "d" },
    ]);
  });

  test("a BOM first, comments, id and retry lines, `data:` without its space and an event type", async () => {
    expect(await read(chunked("\uFEFF: hello\nid: 1\nretry: 10\nevent: error\ndata:x\ndata:  y\n\n"))).toEqual([{ event: "error", data: "x\n y" }]);
  });

  test("a blank line with no data before it is no event, nor is a last event without its blank line", async () => {
    expect(await read(chunked("\n\nevent: ping\n\ndata: kept\n\ndata: cut")).then((events) => events.map((event) => event.data))).toEqual(["kept"]);
  });

  test("an event whose data lines outgrow the limit is refused, even lines with nothing after the colon", async () => {
    // 1,001 empty data lines: no character of data, but each is a line the event keeps.
    await expect(read(chunked("data:\n".repeat(1_001)))).rejects.toBeInstanceOf(EventTooLongError);
    // The line breaks count: 500 lines of one character are 1,000 characters with them. The
    // limit holds line by line, even when the event ends within the same chunk.
    await expect(read(chunked(`${"data: x\n".repeat(501)}\n`))).rejects.toBeInstanceOf(EventTooLongError);
    expect(await read(chunked("data: x\n".repeat(400), "\n"))).toHaveLength(1);
  });

  test("so does a line that never ends", async () => {
    await expect(read(chunked(...Array.from({ length: 20 }, () => "x".repeat(100))))).rejects.toBeInstanceOf(EventTooLongError);
  });
});
