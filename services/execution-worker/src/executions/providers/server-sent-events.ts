/** One event of a `text/event-stream`: its `event` field (empty when none) and its `data` lines joined by `\n`. */
export interface ServerSentEvent {
  event: string;
  data: string;
}

/** An event longer than the reader accepts: a stream that never ends its event is refused, not kept. */
export class EventTooLongError extends Error {
  constructor(readonly maxChars: number) {
    super(`The stream sent an event over ${maxChars} characters`);
    this.name = "EventTooLongError";
  }
}

/**
 * The events of a `text/event-stream` read as text (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * lines end with CRLF, LF or CR, wherever the chunks are cut; a blank line ends an event; `data:`
 * lines (one space after the colon dropped) make its data, `event:` its type; comments, `id:`
 * and `retry:` say nothing a model's answer needs. An event whose data has no line is not one.
 * An event (its data lines and what is not yet a line) longer than `maxChars` throws
 * `EventTooLongError`; what is kept is bounded by it.
 */
export async function* serverSentEvents(chunks: AsyncIterable<string>, maxChars: number): AsyncGenerator<ServerSentEvent> {
  let pending = "";
  let data: string[] = [];
  let size = 0;
  let event = "";
  let first = true;
  // The last chunk ended with CR: a LF at the start of the next one ends the same line.
  let afterCr = false;
  for await (const chunk of chunks) {
    let text = first && chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk;
    first = false;
    if (afterCr && text.charCodeAt(0) === 10) text = text.slice(1);
    afterCr = false;
    pending += text;
    let start = 0;
    let searchCr = pending.includes("\r");
    for (;;) {
      const lf = pending.indexOf("\n", start);
      const cr = searchCr ? pending.indexOf("\r", start) : -1;
      if (cr === -1) searchCr = false;
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) break;
      const line = pending.slice(start, end);
      start = end + 1;
      if (end === cr) {
        if (start === pending.length) afterCr = true;
        else if (pending.charCodeAt(start) === 10) start += 1;
      }
      if (line === "") {
        if (data.length > 0) yield { event, data: data.join("\n") };
        data = [];
        size = 0;
        event = "";
      } else if (line.startsWith("data:")) {
        const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
        size += value.length + 1;
        if (size > maxChars) throw new EventTooLongError(maxChars);
        data.push(value);
      } else if (line.startsWith("event:")) {
        event = line.slice(6).trim();
      }
    }
    pending = pending.slice(start);
    if (size + pending.length > maxChars) throw new EventTooLongError(maxChars);
  }
}
