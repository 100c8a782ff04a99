import type { Bus, RequestContext } from "@galaxy/bus";
import type { AgentsService, Caller } from "./agents.service";

/** Serves the `svc.registry.agents.*` requests; the bus has parsed each payload and verified its claim. */
export function serveAgents(bus: Bus, agents: AgentsService): void {
  bus.serve("registry.agents.create", (body, ctx) => agents.create(callerOf(ctx), body));
  bus.serve("registry.agents.list", (query, ctx) => agents.list(callerOf(ctx), query));
  bus.serve("registry.agents.get", (body, ctx) => agents.get(callerOf(ctx), body.id));
  bus.serve("registry.agents.activate", (body, ctx) => agents.activate(callerOf(ctx), body.id));
  bus.serve("registry.agents.update", (body, ctx) => agents.update(callerOf(ctx), body));
  bus.serve("registry.agents.pause", (body, ctx) => agents.pause(callerOf(ctx), body.id));
  bus.serve("registry.agents.delete", (body, ctx) => agents.delete(callerOf(ctx), body.id));
  bus.serve("registry.agents.versions", (body, ctx) => agents.versions(callerOf(ctx), body));
  bus.serve("registry.agents.notify_secret", (body, ctx) => agents.notifySecret(callerOf(ctx), body));
}

function callerOf(ctx: RequestContext): Caller {
  // Every registry request is declared `claim: "required"`, so the bus refuses one without a claim.
  if (!ctx.claim) throw new Error("the bus let a registry request without a claim through");
  return { claim: ctx.claim, eventContext: () => ctx.eventContext(), logger: ctx.logger };
}
