import { Agent, request } from "node:http";

/**
 * POSTs for the webhook senders, through Node's `http` module and a keep-alive agent holding a
 * connection per sender. Not `fetch`: on this machine a `fetch` POST cost its process about
 * 850 µs of CPU, against 250–310 µs here (docs/benchmarks.md, "The senders' own cost"), and
 * the senders share the two cores with Galaxy.
 */
export class HttpPoster {
  private readonly agent: Agent;

  constructor(connections: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets: connections });
  }

  /** The answer's status and body; rejects on a network error or after `timeoutMs` without an answer. */
  post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method: "POST", agent: this.agent, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) }, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
