import { describe, expect, test } from "vitest";
import { CreateApiKeyBody, isApiKey } from "./api-keys";
import { authorize, principalOf } from "./authorization";
import { WorkspaceClaim } from "./claims";

const WS = "0190f5a0-0000-7000-8000-0000000000aa";
const KEY_ID = "0190f5a0-0000-7000-8000-000000000001";
const CREATOR = "0190f5a0-0000-7000-8000-000000000002";
const SOMEONE_ELSE = "0190f5a0-0000-7000-8000-000000000003";
const keyClaim = WorkspaceClaim.parse({ ws: WS, sub: KEY_ID, act: "api_key", role: "member", own: CREATOR, iat: 0, exp: 1, jti: "j" });

describe("an API key's claim", () => {
  test("names its creator, who owns what the key owns", () => {
    expect(principalOf(keyClaim)).toMatchObject({ id: KEY_ID, owner: CREATOR, act: "api_key" });
  });

  test("may edit what the key created, not what its creator made otherwise (docs/decisions/0007)", () => {
    const principal = principalOf(keyClaim);
    expect(authorize(principal, "agents.edit", { createdBy: KEY_ID })).toBe(true);
    expect(authorize(principal, "agents.delete", { createdBy: KEY_ID, createdByUser: CREATOR })).toBe(true);
    expect(authorize(principal, "agents.delete", { createdBy: CREATOR })).toBe(false);
    expect(authorize(principal, "agents.edit", { createdBy: SOMEONE_ELSE })).toBe(false);
    expect(authorize(principal, "agents.edit")).toBe(false);
  });

  test("never manages API keys, whatever its role", () => {
    for (const role of ["admin", "owner"] as const) expect(authorize(principalOf({ ...keyClaim, role }), "api_keys.manage")).toBe(false);
    expect(authorize(principalOf({ ...keyClaim, act: "user", sub: CREATOR, own: undefined, role: "admin" }), "api_keys.manage")).toBe(true);
  });

  test("a user's claim naming an owner gains nothing from it", () => {
    const user = principalOf({ ...keyClaim, act: "user", sub: SOMEONE_ELSE });
    expect(user.owner).toBeUndefined();
    expect(authorize(user, "agents.edit", { createdBy: CREATOR })).toBe(false);
  });
});

describe("API key bodies", () => {
  test("a create names a role and optionally an ISO expiry, nothing else", () => {
    expect(CreateApiKeyBody.safeParse({ name: "ci", role: "member" }).success).toBe(true);
    expect(CreateApiKeyBody.safeParse({ name: "ci", role: "member", expiresAt: "2030-01-01T00:00:00Z" }).success).toBe(true);
    expect(CreateApiKeyBody.safeParse({ name: "ci", role: "system_admin" }).success).toBe(false);
    expect(CreateApiKeyBody.safeParse({ name: "", role: "member" }).success).toBe(false);
    expect(CreateApiKeyBody.safeParse({ name: "ci", role: "member", key: "gxk_chosen" }).success).toBe(false);
  });

  test("only gxk_ credentials are API keys", () => {
    expect(isApiKey("gxk_abc")).toBe(true);
    expect(isApiKey("eyJhbGciOi")).toBe(false);
  });
});
