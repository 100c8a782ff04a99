import { describe, expect, test } from "vitest";
import { ACTIONS, authorize, principalOf, type Action, type Principal } from "./authorization";
import { ROLES, type Role } from "./roles";

/**
 * docs/api.md, Roles, written out as a table: for each role and action, whether it is allowed
 * ("yes"), refused ("no"), or allowed only on an agent the principal created ("own").
 */
type Rule = "yes" | "no" | "own";
const ROLE_TABLE: Record<Role, Record<Action, Rule>> = {
  viewer: {
    "workspace.read": "yes",
    "members.read": "yes",
    "members.manage": "no",
    "members.manage_owners": "no",
    "workspace.update": "no",
    "workspaces.create": "yes",
    "workspaces.list": "yes",
    "workspaces.switch": "yes",
    "agents.read": "yes",
    "agents.create": "no",
    "agents.edit": "no",
    "agents.delete": "no",
    "agents.activate": "no",
    "triggers.read": "yes",
    "triggers.manage": "no",
    "executions.read": "yes",
    "executions.start": "no",
    "executions.cancel": "no",
    "audit.read": "no",
    "credentials.manage": "no",
    "api_keys.manage": "no",
    "knowledge.read": "yes",
    "knowledge.create": "no",
  },
  member: {
    "workspace.read": "yes",
    "members.read": "yes",
    "members.manage": "no",
    "members.manage_owners": "no",
    "workspace.update": "no",
    "workspaces.create": "yes",
    "workspaces.list": "yes",
    "workspaces.switch": "yes",
    "agents.read": "yes",
    "agents.create": "yes",
    "agents.edit": "own",
    "agents.delete": "own",
    "agents.activate": "own",
    "triggers.read": "yes",
    "triggers.manage": "own",
    "executions.read": "yes",
    "executions.start": "yes",
    "executions.cancel": "yes",
    "audit.read": "no",
    "credentials.manage": "no",
    "api_keys.manage": "no",
    "knowledge.read": "yes",
    "knowledge.create": "yes",
  },
  admin: {
    "workspace.read": "yes",
    "members.read": "yes",
    "members.manage": "yes",
    "members.manage_owners": "no",
    "workspace.update": "yes",
    "workspaces.create": "yes",
    "workspaces.list": "yes",
    "workspaces.switch": "yes",
    "agents.read": "yes",
    "agents.create": "yes",
    "agents.edit": "yes",
    "agents.delete": "yes",
    "agents.activate": "yes",
    "triggers.read": "yes",
    "triggers.manage": "yes",
    "executions.read": "yes",
    "executions.start": "yes",
    "executions.cancel": "yes",
    "audit.read": "yes",
    "credentials.manage": "yes",
    "api_keys.manage": "yes",
    "knowledge.read": "yes",
    "knowledge.create": "yes",
  },
  owner: {
    "workspace.read": "yes",
    "members.read": "yes",
    "members.manage": "yes",
    "members.manage_owners": "yes",
    "workspace.update": "yes",
    "workspaces.create": "yes",
    "workspaces.list": "yes",
    "workspaces.switch": "yes",
    "agents.read": "yes",
    "agents.create": "yes",
    "agents.edit": "yes",
    "agents.delete": "yes",
    "agents.activate": "yes",
    "triggers.read": "yes",
    "triggers.manage": "yes",
    "executions.read": "yes",
    "executions.start": "yes",
    "executions.cancel": "yes",
    "audit.read": "yes",
    "credentials.manage": "yes",
    "api_keys.manage": "yes",
    "knowledge.read": "yes",
    "knowledge.create": "yes",
  },
};

const ME = "0190f5a0-0000-7000-8000-000000000001";
const SOMEONE_ELSE = "0190f5a0-0000-7000-8000-000000000002";

/** The resource as each case sees it: created by the principal, by another, or not known. */
const RESOURCES = [
  { name: "its own agent", resource: { createdBy: ME }, own: true },
  { name: "another's agent", resource: { createdBy: SOMEONE_ELSE }, own: false },
  { name: "no resource named", resource: {}, own: false },
] as const;

test("the table covers every role and every action", () => {
  expect(Object.keys(ROLE_TABLE).sort()).toEqual([...ROLES].sort());
  for (const role of ROLES) expect(Object.keys(ROLE_TABLE[role]).sort()).toEqual([...ACTIONS].sort());
});

describe.each(ROLES)("given a %s without permission overrides", (role) => {
  const principal: Principal = { role, id: ME };
  const cases = ACTIONS.flatMap((action) => RESOURCES.map((r) => ({ action, ...r, rule: ROLE_TABLE[role][action] })));

  test.each(cases)("when it asks $action on $name, then the role table decides", ({ action, resource, own, rule }) => {
    const expected = rule === "yes" || (rule === "own" && own);
    expect(authorize(principal, action, resource)).toBe(expected);
  });

  test("when no resource is passed at all, only unconditional rights remain", () => {
    for (const action of ACTIONS) expect(authorize(principal, action)).toBe(ROLE_TABLE[role][action] === "yes");
  });
});

describe("viewers read and do nothing else", () => {
  test("a viewer may not act even on an agent recorded as its own", () => {
    const viewer: Principal = { role: "viewer", id: ME };
    const allowed = ACTIONS.filter((action) => authorize(viewer, action, { createdBy: ME }));
    // Its own account (its workspaces, switching between them) is the viewer's whatever its role.
    expect([...allowed].sort()).toEqual(["agents.read", "executions.read", "knowledge.read", "members.read", "triggers.read", "workspace.read", "workspaces.create", "workspaces.list", "workspaces.switch"]);
  });
});

describe("permission overrides win over the role", () => {
  test.each(ROLES)("given a %s with agents.create true, it may create agents", (role) => {
    expect(authorize({ role, id: ME, perms: { agents: { create: true } } }, "agents.create")).toBe(true);
  });

  test.each(ROLES)("given a %s with agents.create false, it may not create agents", (role) => {
    expect(authorize({ role, id: ME, perms: { agents: { create: false } } }, "agents.create")).toBe(false);
  });

  test.each(ROLES)("given a %s with agents.edit true, it may edit and activate any agent", (role) => {
    const principal: Principal = { role, id: ME, perms: { agents: { edit: true } } };
    expect(authorize(principal, "agents.edit", { createdBy: SOMEONE_ELSE })).toBe(true);
    expect(authorize(principal, "agents.activate", { createdBy: SOMEONE_ELSE })).toBe(true);
  });

  test.each(ROLES)("given a %s with agents.edit false, it may not edit or activate even its own agent", (role) => {
    const principal: Principal = { role, id: ME, perms: { agents: { edit: false } } };
    expect(authorize(principal, "agents.edit", { createdBy: ME })).toBe(false);
    expect(authorize(principal, "agents.activate", { createdBy: ME })).toBe(false);
  });

  test.each(ROLES)("given a %s with agents.delete true, it may delete any agent", (role) => {
    expect(authorize({ role, id: ME, perms: { agents: { delete: true } } }, "agents.delete", { createdBy: SOMEONE_ELSE })).toBe(true);
  });

  test.each(ROLES)("given a %s with agents.delete false, it may not delete even its own agent", (role) => {
    expect(authorize({ role, id: ME, perms: { agents: { delete: false } } }, "agents.delete", { createdBy: ME })).toBe(false);
  });

  test("an override of one action leaves the others to the role", () => {
    const member: Principal = { role: "member", id: ME, perms: { agents: { delete: false } } };
    expect(authorize(member, "agents.edit", { createdBy: ME })).toBe(true);
    expect(authorize(member, "agents.edit", { createdBy: SOMEONE_ELSE })).toBe(false);
    expect(authorize(member, "agents.create")).toBe(true);
    expect(authorize(member, "audit.read")).toBe(false);
  });

  test("agent overrides do not reach actions outside agents", () => {
    const viewer: Principal = { role: "viewer", id: ME, perms: { agents: { create: true, edit: true, delete: true } } };
    expect(authorize(viewer, "executions.start")).toBe(false);
    expect(authorize(viewer, "executions.cancel")).toBe(false);
    expect(authorize(viewer, "audit.read")).toBe(false);
  });

  test("billing permissions change nothing about agents", () => {
    const viewer: Principal = { role: "viewer", id: ME, perms: { billing: { view: true, manage: true } } };
    expect(authorize(viewer, "agents.create")).toBe(false);
    expect(authorize(viewer, "agents.edit", { createdBy: ME })).toBe(false);
  });
});

describe("claims that speak for a service or an operator", () => {
  const serviceClaim = { ws: "00000000-0000-0000-0000-000000000001", sub: "execution-worker", act: "service" as const, role: "owner" as const, iat: 0, exp: 1, jti: "j" };

  test("may start and read work, whatever role they carry", () => {
    const principal = principalOf(serviceClaim);
    expect(authorize(principal, "executions.start")).toBe(true);
    expect(authorize(principal, "executions.read")).toBe(true);
    expect(authorize(principal, "agents.read")).toBe(true);
    expect(authorize(principal, "knowledge.read")).toBe(true);
  });

  test.each(ACTIONS.filter((a) => !["executions.start", "executions.read", "agents.read", "knowledge.read"].includes(a)))("may not %s", (action) => {
    expect(authorize(principalOf(serviceClaim), action)).toBe(false);
    expect(authorize(principalOf({ ...serviceClaim, act: "operator" }), action)).toBe(false);
  });

  test("a user claim keeps its role", () => {
    expect(authorize(principalOf({ ...serviceClaim, act: "user", sub: "u" }), "audit.read")).toBe(true);
  });
});

describe("a user's own account across workspaces", () => {
  test.each(["api_key", "service", "operator"] as const)("is never the business of an %s claim, whatever its role", (act) => {
    const principal: Principal = { role: "owner", id: ME, act };
    for (const action of ["workspaces.create", "workspaces.list", "workspaces.switch"] as const) expect(authorize(principal, action)).toBe(false);
  });

  test("only an owner may manage owners; admins manage the other members", () => {
    expect(authorize({ role: "admin", id: ME }, "members.manage")).toBe(true);
    expect(authorize({ role: "admin", id: ME }, "members.manage_owners")).toBe(false);
    expect(authorize({ role: "owner", id: ME }, "members.manage_owners")).toBe(true);
    expect(authorize({ role: "member", id: ME, perms: { agents: { create: true, edit: true, delete: true } } }, "members.manage")).toBe(false);
  });
});

describe("ownership through an API key", () => {
  const member = (id: string, owner?: string) => ({ role: "member" as const, id, ...(owner ? { owner, act: "api_key" as const } : {}) });

  test("the person behind the key that created an agent owns it", () => {
    expect(authorize(member("user-1"), "agents.activate", { createdBy: "key-1", createdByUser: "user-1" })).toBe(true);
  });

  test("the key owns what it made itself, not what its creator made otherwise", () => {
    expect(authorize(member("key-1", "user-1"), "agents.activate", { createdBy: "key-1", createdByUser: "user-1" })).toBe(true);
    expect(authorize(member("key-1", "user-1"), "agents.activate", { createdBy: "user-1" })).toBe(false);
  });

  test("nobody else does", () => {
    expect(authorize(member("user-2"), "agents.activate", { createdBy: "key-1", createdByUser: "user-1" })).toBe(false);
    expect(authorize(member("key-2", "user-2"), "agents.activate", { createdBy: "key-1", createdByUser: "user-1" })).toBe(false);
  });
});
