import { describe, expect, test } from "vitest";
import { apiKeyAuthority } from "./api-key-authority";

describe("an API key acts with the lower of its role and its creator's", () => {
  test.each([
    ["admin", "owner", "admin"],
    ["owner", "admin", "admin"],
    ["admin", "viewer", "viewer"],
    ["viewer", "admin", "viewer"],
    ["member", "member", "member"],
  ] as const)("given a %s key of a %s creator, it acts as %s", (keyRole, creatorRole, expected) => {
    expect(apiKeyAuthority(keyRole, { role: creatorRole, perms: undefined }).role).toBe(expected);
  });
});

describe("the creator's permission overrides", () => {
  test("come along whole when the key is not smaller than its creator", () => {
    const perms = { agents: { delete: true, create: false } };
    expect(apiKeyAuthority("member", { role: "member", perms })).toEqual({ role: "member", perms });
    expect(apiKeyAuthority("owner", { role: "member", perms })).toEqual({ role: "member", perms });
  });

  test("only take rights away when the key was made smaller than its creator", () => {
    const perms = { agents: { delete: true, create: false }, billing: { view: true, manage: false } };
    expect(apiKeyAuthority("viewer", { role: "member", perms })).toEqual({ role: "viewer", perms: { agents: { create: false }, billing: { manage: false } } });
  });

  test("a smaller key of a creator whose overrides only grant carries none", () => {
    expect(apiKeyAuthority("viewer", { role: "admin", perms: { agents: { delete: true } } })).toEqual({ role: "viewer", perms: undefined });
  });

  test("empty overrides are left out", () => {
    expect(apiKeyAuthority("admin", { role: "admin", perms: {} })).toEqual({ role: "admin", perms: undefined });
  });
});
