import type { Bus, RequestContext } from "@galaxy/bus";
import { ForbiddenError } from "@galaxy/contracts";
import type { Caller } from "../agents/agents.service";
import type { TriggersService } from "./triggers.service";

/** Serves the `svc.registry.triggers.*` requests; the bus has parsed each payload and verified its claim. */
export function serveTriggers(bus: Bus, triggers: TriggersService): void {
  bus.serve("registry.triggers.create", (body, ctx) => triggers.create(callerOf(ctx), body));
  bus.serve("registry.triggers.list", (body, ctx) => triggers.list(callerOf(ctx), body));
  bus.serve("registry.triggers.delete", (body, ctx) => triggers.delete(callerOf(ctx), body));
  bus.serve("registry.triggers.rotate_secret", (body, ctx) => triggers.rotateSecret(callerOf(ctx), body));
  // No claim: a delivery names its trigger, and the trigger its workspace. NATS lets only the
  // gateway's user make this request (infra/nats/nats-server.conf), since the reply carries secrets.
  bus.serve("registry.triggers.resolve", async (body, ctx) => {
    // Where the server has users, the NATS user that asked is known too: the gateway's alone.
    if (ctx.requester !== undefined && ctx.requester !== "gateway") throw new ForbiddenError(`${ctx.requester} may not resolve webhook triggers`, "requester_not_allowed");
    return triggers.resolve(body.triggerId);
  });
}

function callerOf(ctx: RequestContext): Caller {
  if (!ctx.claim) throw new Error("the bus let a registry request without a claim through");
  return { claim: ctx.claim, eventContext: () => ctx.eventContext(), logger: ctx.logger };
}
