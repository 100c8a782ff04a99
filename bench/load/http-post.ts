import { Agent, request } from "node:http";

/**
 * POSTs for the webhook senders, through Node's `http` module and a keep-alive agent holding up
 * to a connection per sender. Not `fetch`: on this machine a `fetch` POST cost its process
 * about 430–570 µs of CPU, against 120–250 µs here (docs/benchmarks.md, "The senders' own
 * cost"), and the senders share the two cores with Galaxy.
 */
export class HttpPoster {
  private readonly agent: Agent;

  constructor(connections: number) {
    // A connection idle this long is closed rather than reused as the server closes it.
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, timeout: 30_000 });
  }

  /** The answer's status and body; rejects on a network error or when the whole answer took longer than `timeoutMs`. */
  post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
    if (!url.startsWith("http://")) return Promise.reject(new Error(`the senders post over http only, not to ${url}`));
    return new Promise((resolve, reject) => {
      let deadline: NodeJS.Timeout | undefined;
      const fail = (error: Error) => {
        clearTimeout(deadline);
        reject(error);
      };
      const req = request(url, { method: "POST", agent: this.agent, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", fail);
      });
      deadline = setTimeout(() => req.destroy(new Error(`no whole answer within ${timeoutMs} ms`)), timeoutMs);
      req.on("error", fail);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
