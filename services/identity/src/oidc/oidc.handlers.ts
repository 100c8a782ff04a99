import type { Bus } from "@galaxy/bus";
import type { OidcService } from "./oidc.service";

/** External identity on the bus: the exchange (anyone, through the gateway) and user sync (the gateway, after it verified the webhook). */
export function serveOidc(bus: Bus, oidc: OidcService): void {
  bus.serve("identity.auth.exchange", (body, ctx) => oidc.exchange(body, ctx));
  bus.serve("identity.users.sync", (body, ctx) => oidc.sync(body, ctx));
}
