import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface OpsServerOptions {
  port: number;
  host?: string;
  metrics: Registry;
  /** Each dependency's reachability; all true means ready. */
  readiness: () => Promise<Record<string, boolean>>;
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/** `/health/live`, `/health/ready` and `/metrics` for a service that has no public HTTP. */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    if (req.url === "/health/live") return send(200, "application/json", JSON.stringify({ status: "ok" }));
    if (req.url === "/health/ready") {
      options
        .readiness()
        .then((checks) => {
          const ready = Object.values(checks).every(Boolean);
          send(ready ? 200 : 503, "application/json", JSON.stringify({ status: ready ? "ready" : "not_ready", checks }));
        })
        .catch(() => send(503, "application/json", JSON.stringify({ status: "not_ready" })));
      return;
    }
    if (req.url === "/metrics") {
      options.metrics
        .metrics()
        .then((text) => send(200, options.metrics.contentType, text))
        .catch(() => send(500, "text/plain", "metrics unavailable"));
      return;
    }
    send(404, "application/json", JSON.stringify({ error: "Not Found", code: "route_not_found", message: "No such route" }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
