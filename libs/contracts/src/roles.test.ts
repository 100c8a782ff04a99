import { expect, test } from "vitest";
import { lowerRole, Permissions, Role, roleRank, ROLES, type Role as RoleName } from "./roles";

const LOWER: Array<[RoleName, RoleName, RoleName]> = [
  ["viewer", "viewer", "viewer"],
  ["viewer", "member", "viewer"],
  ["viewer", "admin", "viewer"],
  ["viewer", "owner", "viewer"],
  ["member", "member", "member"],
  ["member", "admin", "member"],
  ["member", "owner", "member"],
  ["admin", "admin", "admin"],
  ["admin", "owner", "admin"],
  ["owner", "owner", "owner"],
];

test.each(LOWER)("the lower of %s and %s is %s, in either order", (a, b, lower) => {
  expect(lowerRole(a, b)).toBe(lower);
  expect(lowerRole(b, a)).toBe(lower);
});

test("roles rank viewer < member < admin < owner", () => {
  expect(ROLES.map(roleRank)).toEqual([0, 1, 2, 3]);
  expect(roleRank("viewer")).toBeLessThan(roleRank("owner"));
});

test("a role outside the four is refused", () => {
  expect(Role.safeParse("system_admin").success).toBe(false);
  expect(Role.safeParse("Owner").success).toBe(false);
  expect(Role.parse("admin")).toBe("admin");
});

test("permissions take booleans for known keys only", () => {
  expect(Permissions.parse({ agents: { edit: false } })).toEqual({ agents: { edit: false } });
  expect(Permissions.safeParse({ agents: { edit: "yes" } }).success).toBe(false);
  expect(Permissions.safeParse({ admin: true }).success).toBe(false);
});
