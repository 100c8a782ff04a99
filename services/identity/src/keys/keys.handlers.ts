import type { Bus } from "@galaxy/bus";
import type { KeysService } from "./keys.service";

/** Serves the key operations only the CLI's NATS user may ask for (infra/nats/). */
export function serveKeys(bus: Bus, keys: KeysService): void {
  bus.serve("identity.operator.keys.list", () => keys.list());
  bus.serve("identity.operator.keys.rotate", (body, ctx) => keys.rotate(body, ctx));
  bus.serve("identity.operator.keys.revoke", (body, ctx) => keys.revoke(body, ctx));
}
