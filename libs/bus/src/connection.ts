import { connect, errors as natsErrors, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@galaxy/observability";
import { natsAuthOptions } from "./config";
import type { BusOptions } from "./types";

/** Connects to NATS as the service, reconnecting for as long as it takes. */
export async function openConnection(options: BusOptions): Promise<NatsConnection> {
  return connect({
    // `NATS_URL` may name several servers of a cluster, comma-separated.
    servers: options.url.split(",").map((url) => url.trim()).filter(Boolean),
    name: `galaxy-${options.service}`,
    maxReconnectAttempts: -1,
    // Otherwise every request and timer captures a stack trace up front, in case it fails:
    // a measurable share of the read path's CPU (docs/benchmarks.md). Failures still say
    // what failed; the bus wraps them in errors of its own.
    noAsyncTraces: true,
    ...(await natsAuthOptions(options)),
  });
}

/** Follows the connection's status: up, or lost until the client has reconnected. */
export class LinkState {
  /** False from a lost connection until the client has reconnected (publishes meanwhile would only be buffered). */
  up = true;

  constructor(private readonly nc: NatsConnection, private readonly logger: Logger) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") this.up = false;
        else if (status.type === "reconnect") this.up = true;
      }
    })().catch(() => undefined);
  }

  /**
   * Calls `callback` each time the connection comes back after a loss. Core NATS signals sent
   * meanwhile are lost, so what they keep fresh (cached claims, keys) should be dropped.
   */
  onReconnect(callback: () => void): void {
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type !== "reconnect") continue;
        try {
          callback();
        } catch (error) {
          this.logger.error({ err: error }, "reconnect handler failed");
        }
      }
    })();
  }
}

/** Drains the connection so pending publishes go out; a connection already closed is fine. */
export async function drainConnection(nc: NatsConnection): Promise<void> {
  try {
    await nc.drain();
  } catch (error) {
    if (!(error instanceof natsErrors.ClosedConnectionError)) throw error;
  }
}
