import type { Bus } from "@galaxy/bus";
import type { AdminService } from "./admin.service";

/** Serves the system-admin requests (the grant only the CLI's NATS user may make; the operator claim only the gateway's). */
export function serveAdmin(bus: Bus, admin: AdminService): void {
  bus.serve("identity.operator.grant_system_admin", (body, ctx) => admin.grantSystemAdmin(body, ctx));
  bus.serve("identity.claims.operator", (body) => admin.issueOperatorClaim(body.accessToken));
  bus.serve("identity.operator.claim", () => admin.issueCliOperatorClaim());
}
