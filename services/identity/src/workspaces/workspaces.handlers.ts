import type { Bus } from "@galaxy/bus";
import { callerOf } from "../members/members.handlers";
import type { WorkspacesService } from "./workspaces.service";

/** Serves `svc.identity.workspaces.*` and `svc.identity.workspace.*`. */
export function serveWorkspaces(bus: Bus, workspaces: WorkspacesService): void {
  bus.serve("identity.workspaces.create", (body, ctx) => workspaces.create(callerOf(ctx).claim, body, ctx));
  bus.serve("identity.workspaces.list", (query, ctx) => workspaces.list(callerOf(ctx).claim, query));
  bus.serve("identity.workspace.get", (_body, ctx) => workspaces.get(callerOf(ctx).claim));
  bus.serve("identity.workspace.update", (body, ctx) => workspaces.update(callerOf(ctx), body));
}
