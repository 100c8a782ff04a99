import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { z } from "zod";

/** Every key of this suite's runs has this shape; it is the whole input message of a run. */
export const RUN_KEY = /fault-[a-z0-9]+-[a-z0-9-]+/;

const ChatBody = z.object({ messages: z.array(z.object({ role: z.string(), content: z.unknown() })) });

/**
 * A pass-through in front of the dev model server that counts model calls per run: the run's
 * key is read from the last user message of each chat completion. It is how the suite sees
 * "no run called the model twice" without changing the dev model server.
 */
export class ModelCallCounter {
  private readonly calls = new Map<string, number>();
  private server: Server | undefined;
  port = 0;

  constructor(private readonly upstreamPort: number) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    const server = createServer((incoming, outgoing) => {
      void this.forward(incoming).then(
        (upstream) => {
          outgoing.writeHead(upstream.statusCode ?? 502, upstream.headers);
          upstream.pipe(outgoing);
        },
        () => {
          outgoing.writeHead(502, { "content-type": "application/json" });
          outgoing.end(JSON.stringify({ error: { message: "the dev model server did not answer", type: "server_error" } }));
        },
      );
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
  }

  /** Model calls made for `key` so far. */
  callsOf(key: string): number {
    return this.calls.get(key) ?? 0;
  }

  /** Keys (of those given) whose run called the model more than once. */
  repeated(keys: Iterable<string>): string[] {
    return [...keys].filter((key) => this.callsOf(key) > 1);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async forward(incoming: IncomingMessage): Promise<IncomingMessage> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (incoming.url?.endsWith("/chat/completions")) this.count(body);
    return new Promise((resolve, reject) => {
      const upstream = httpRequest({ host: "127.0.0.1", port: this.upstreamPort, method: incoming.method, path: incoming.url, headers: incoming.headers }, resolve);
      upstream.once("error", reject);
      upstream.end(body);
    });
  }

  private count(body: Buffer): void {
    let parsed: z.infer<typeof ChatBody>;
    try {
      parsed = ChatBody.parse(JSON.parse(body.toString("utf8")));
    } catch {
      return;
    }
    const lastUser = parsed.messages.filter((message) => message.role === "user").at(-1);
    const key = RUN_KEY.exec(JSON.stringify(lastUser?.content ?? ""))?.[0];
    if (key) this.calls.set(key, this.callsOf(key) + 1);
  }
}
