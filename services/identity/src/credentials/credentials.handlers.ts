import type { Bus, RequestContext } from "@galaxy/bus";
import type { WorkspaceClaim } from "@galaxy/contracts";
import type { CredentialsService } from "./credentials.service";

/** Serves `svc.identity.credentials.*`; every one needs a claim (the bus refuses a request without one). */
export function serveCredentials(bus: Bus, credentials: CredentialsService): void {
  bus.serve("identity.credentials.put", (body, ctx) => credentials.put(body, { claim: claimOf(ctx), eventContext: () => ctx.eventContext() }));
  bus.serve("identity.credentials.list", (body, ctx) => credentials.list(body, claimOf(ctx)));
  bus.serve("identity.credentials.delete", (body, ctx) => credentials.delete(body, { claim: claimOf(ctx), eventContext: () => ctx.eventContext() }));
  bus.serve("identity.credentials.resolve", (body, ctx) => credentials.resolve(body, claimOf(ctx)));
}

function claimOf(ctx: RequestContext): WorkspaceClaim {
  if (!ctx.claim) throw new Error("the bus let a request without a claim through");
  return ctx.claim;
}
