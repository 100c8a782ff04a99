import type { ClaimActor, WorkspaceClaim } from "./claims";
import type { Permissions, Role } from "./roles";
import { roleRank } from "./roles";

/** Everything a principal may ask to do inside a workspace. */
export const ACTIONS = [
  "workspace.read",
  "members.read",
  "members.manage",
  "members.manage_owners",
  "workspace.update",
  "workspaces.create",
  "workspaces.list",
  "workspaces.switch",
  "agents.read",
  "agents.create",
  "agents.edit",
  "agents.delete",
  "agents.activate",
  "triggers.read",
  "triggers.manage",
  "executions.read",
  "executions.start",
  "executions.cancel",
  "audit.read",
  "credentials.manage",
  "api_keys.manage",
  "knowledge.read",
  "knowledge.create",
] as const;
export type Action = (typeof ACTIONS)[number];

export interface Principal {
  role: Role;
  perms?: Permissions | undefined;
  /** The user (or API key) acting. */
  id: string;
  /** Who the claim speaks for; a user when not said. */
  act?: ClaimActor | undefined;
  /** For an API key: the user who created it (recorded as `createdByUser` of what the key creates). */
  owner?: string | undefined;
}

/**
 * What a service (a schedule tick, a derived event) or an operator may do inside a workspace
 * with its own claim: start and read work, nothing that changes configuration or reads the
 * audit log. A service claim is never a way into a workspace's administration.
 */
// Searching an agent's knowledge bases (`knowledge.read`) is part of running it.
const NON_MEMBER_ACTIONS: ReadonlySet<Action> = new Set<Action>(["agents.read", "executions.read", "executions.start", "knowledge.read"]);

/** The principal a verified workspace claim speaks for. */
export function principalOf(claim: WorkspaceClaim): Principal {
  return { role: claim.role, perms: claim.perms, id: claim.sub, act: claim.act, owner: claim.act === "api_key" ? claim.own : undefined };
}

export interface ResourceOwnership {
  /** Who created the resource, when the action concerns an existing one (a user or an API key). */
  createdBy?: string | undefined;
  /** The person behind that creator: an API key's creator (what a key creates is theirs too). */
  createdByUser?: string | undefined;
}

/**
 * May this principal do this? One pure decision for every service: role first, then the
 * member's permission overrides, then ownership for "its own" agents (docs/api.md, Roles).
 */
export function authorize(principal: Principal, action: Action, resource: ResourceOwnership = {}): boolean {
  if (principal.act === "service" || principal.act === "operator") return NON_MEMBER_ACTIONS.has(action);
  const rank = roleRank(principal.role);
  const atLeast = (role: Role) => rank >= roleRank(role);
  const override = (key: "create" | "edit" | "delete") => principal.perms?.agents?.[key];
  // An API key owns what it created, and what its creator did (docs/api.md).
  // What an API key creates is the key's and its creator's (docs/api.md); a key does not
  // inherit what its creator made by other means (docs/decisions/0007).
  const owns = [resource.createdBy, resource.createdByUser].some((who) => who !== undefined && who === principal.id);
  switch (action) {
    case "workspace.read":
    case "members.read":
    case "agents.read":
    case "executions.read":
    case "knowledge.read":
      return atLeast("viewer");
    // Knowledge bases and their documents (docs/api.md: members create knowledge bases).
    case "knowledge.create":
      return atLeast("member");
    case "agents.create":
      return override("create") ?? atLeast("member");
    case "agents.edit":
    case "agents.activate":
      return override("edit") ?? (atLeast("admin") || (atLeast("member") && owns));
    // Triggers are part of an agent's configuration: who may edit the agent manages them.
    case "triggers.manage":
      return override("edit") ?? (atLeast("admin") || (atLeast("member") && owns));
    case "triggers.read":
      return atLeast("viewer");
    case "agents.delete":
      return override("delete") ?? (atLeast("admin") || (atLeast("member") && owns));
    case "executions.start":
    case "executions.cancel":
      return atLeast("member");
    case "audit.read":
      return atLeast("admin");
    case "members.manage":
    case "workspace.update":
      return atLeast("admin");
    // Only an owner adds, changes or removes an owner, or makes someone one.
    case "members.manage_owners":
      return atLeast("owner");
    // A user's own account across workspaces (create one, list them, switch between them):
    // never an API key's, a service's or an operator's business.
    case "workspaces.create":
    case "workspaces.list":
    case "workspaces.switch":
      return (principal.act ?? "user") === "user";
    // API keys do not mint API keys: a leaked key must not be able to outlive its revocation.
    case "api_keys.manage":
      return principal.act !== "api_key" && atLeast("admin");
    case "credentials.manage":
      return atLeast("admin");
    default: {
      const exhaustive: never = action;
      return exhaustive;
    }
  }
}
