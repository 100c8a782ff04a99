import type { Bus, RequestContext } from "@galaxy/bus";
import type { MemberCaller, MembersService } from "./members.service";

/** Serves `svc.identity.members.*`; the bus has parsed each payload and verified its claim. */
export function serveMembers(bus: Bus, members: MembersService): void {
  bus.serve("identity.members.list", (query, ctx) => members.list(callerOf(ctx), query));
  bus.serve("identity.members.add", (body, ctx) => members.add(callerOf(ctx), body));
  bus.serve("identity.members.update", (body, ctx) => members.update(callerOf(ctx), body));
  bus.serve("identity.members.remove", (body, ctx) => members.remove(callerOf(ctx), body.userId));
}

/** The verified caller of a request declared `claim: "required"` (the bus refuses one without). */
export function callerOf(ctx: RequestContext): MemberCaller {
  if (!ctx.claim) throw new Error("the bus let a request without a claim through");
  return { claim: ctx.claim, eventContext: () => ctx.eventContext(), logger: ctx.logger };
}
