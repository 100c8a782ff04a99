import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A test's server listening on loopback, and how to stop it. */
export interface LoopbackServer {
  port: number;
  /** Ends open connections too (kept-alive clients would hold `close` otherwise), then closes. */
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1: what a test serves a stand-in provider, tool or receiver on. */
export async function listenOnLoopback(server: Server): Promise<LoopbackServer> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
