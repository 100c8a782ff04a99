import { describe, expect } from "vitest";
import { z } from "zod";
import { createLocalJWKSet, jwtVerify } from "jose";
import type { Bus } from "@galaxy/bus";
import { CLAIM_TYP, EventEnvelope, type RequestName, type RequestPayload, type ReplyData, type SignupResult } from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import type { IdentityDb } from "../db";
import { identityTest, startIdentityFirst } from "../../test/fixtures";

/** A signed-in user as the gateway holds one: an access token for one workspace. */
interface Session {
  userId: string;
  email: string;
  workspaceId: string;
  accessToken: string;
}

let seq = 0;

/**
 * The file's helpers on identity's gateway connection and database: `signup`, `as`, `switchTo`,
 * `team` and `eventsOf`, each a file fixture of `test` below.
 */
function helpersOn(gateway: Bus, db: Kysely<IdentityDb>) {
  async function signup(name = "user"): Promise<Session & { result: SignupResult }> {
    seq += 1;
    const email = `${name}-${seq}@example.com`;
    const result = await gateway.request("identity.auth.signup", { email, password: "correct horse battery", name, workspaceName: `${name} ${seq}` });
    return { userId: result.user.id, email, workspaceId: result.workspace.id, accessToken: result.accessToken, result };
  }

  /** A bus request as the gateway makes it: with the claim identity issues for the session's token now. */
  async function as<N extends RequestName>(session: Session, name: N, payload: RequestPayload<N>): Promise<ReplyData<N>> {
    const { claim } = await gateway.request("identity.claims.issue", { accessToken: session.accessToken });
    return gateway.request(name, payload, { claim, workspaceId: session.workspaceId });
  }

  /** The session of `user` switched into `workspaceId`. */
  async function switchTo(user: Session, workspaceId: string): Promise<Session> {
    const grant = await as(user, "identity.auth.switch", { workspaceId });
    return { ...user, workspaceId, accessToken: grant.accessToken };
  }

  /** A workspace of `owner` with `others` added at the given roles, and their sessions in it. */
  async function team(roles: Array<"viewer" | "member" | "admin" | "owner">): Promise<{ owner: Session; members: Session[] }> {
    const owner = await signup("owner");
    const members: Session[] = [];
    for (const role of roles) {
      const user = await signup(role);
      await as(owner, "identity.members.add", { email: user.email, role });
      members.push(await switchTo(user, owner.workspaceId));
    }
    return { owner, members };
  }

  const StoredEvent = z.object({ type: z.string(), payload: EventEnvelope, published_at: z.date().nullable() });

  /** The events identity wrote for a workspace, oldest first. */
  async function eventsOf(workspaceId: string, type?: string): Promise<Array<z.infer<typeof StoredEvent>>> {
    const rows = await inWorkspace(db, workspaceId, (tx) => {
      let query = tx.selectFrom("outbox").select(["type", "payload", "published_at"]).where("workspace_id", "=", workspaceId);
      if (type) query = query.where("type", "=", type);
      return query.orderBy("created_at").orderBy("id").execute();
    });
    return rows.map((row) => StoredEvent.parse(row));
  }

  return { signup, as, switchTo, team, eventsOf };
}

/** identity's fixtures, and the file's helpers on them (helpersOn). */
const test = identityTest()
  .extend("helpers", { scope: "file" }, async ({ gateway, db }) => helpersOn(gateway, db))
  .extend("signup", { scope: "file" }, async ({ helpers }) => helpers.signup)
  .extend("as", { scope: "file" }, async ({ helpers }) => helpers.as)
  .extend("switchTo", { scope: "file" }, async ({ helpers }) => helpers.switchTo)
  .extend("team", { scope: "file" }, async ({ helpers }) => helpers.team)
  .extend("eventsOf", { scope: "file" }, async ({ helpers }) => helpers.eventsOf);
startIdentityFirst(test);

describe("adding members", () => {
  test("an owner adds an existing user as viewer: 201-shaped member and a member.added event", async ({ signup, as, eventsOf }) => {
    const owner = await signup("owner");
    const mate = await signup("mate");
    const member = await as(owner, "identity.members.add", { email: mate.email.toUpperCase(), role: "viewer" });
    expect(member).toMatchObject({ userId: mate.userId, email: mate.email, name: "mate", role: "viewer", permissions: {} });
    const [added] = (await eventsOf(owner.workspaceId, "member.added")).filter((e) => e.payload.data && JSON.stringify(e.payload.data).includes(mate.userId));
    expect(added?.payload).toMatchObject({ workspaceId: owner.workspaceId, actor: { type: "user", id: owner.userId }, data: { userId: mate.userId, email: mate.email, role: "viewer" } });
  });

  test("an unknown email is 404 user_not_found; a member already there is 409 already_member", async ({ signup, as }) => {
    const owner = await signup("owner");
    await expect(as(owner, "identity.members.add", { email: "nobody-here@example.com", role: "viewer" })).rejects.toMatchObject({ status: 404, code: "user_not_found" });
    await expect(as(owner, "identity.members.add", { email: owner.email, role: "viewer" })).rejects.toMatchObject({ status: 409, code: "already_member" });
  });

  test("the same user added twice at once: one member, one 409", async ({ signup, as }) => {
    const owner = await signup("owner");
    const mate = await signup("mate");
    const outcomes = await Promise.allSettled([0, 1].map(() => as(owner, "identity.members.add", { email: mate.email, role: "member" })));
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    expect(outcomes.find((o) => o.status === "rejected")).toMatchObject({ reason: { status: 409, code: "already_member" } });
  });

  test("viewers and members may not add anyone; an admin may not add an owner", async ({ signup, as, team }) => {
    const { members: [viewer, member, admin] } = await team(["viewer", "member", "admin"]);
    const stranger = await signup("stranger");
    for (const session of [viewer, member]) {
      await expect(as(session!, "identity.members.add", { email: stranger.email, role: "viewer" })).rejects.toMatchObject({ status: 403, code: "forbidden" });
    }
    await expect(as(admin!, "identity.members.add", { email: stranger.email, role: "owner" })).rejects.toMatchObject({ status: 403 });
    await expect(as(admin!, "identity.members.add", { email: stranger.email, role: "admin" })).resolves.toMatchObject({ role: "admin" });
  });
});

describe("listing members", () => {
  test("a viewer lists the workspace's members with email, name, role, permissions and join time", async ({ as, team }) => {
    const { owner, members: [viewer] } = await team(["viewer"]);
    const page = await as(viewer!, "identity.members.list", { limit: 1, offset: 0 });
    expect(page.pagination).toEqual({ total: 2, limit: 1, offset: 0, hasMore: true });
    expect(page.items).toEqual([{ userId: owner.userId, email: owner.email, name: "owner", role: "owner", permissions: {}, joinedAt: expect.any(String) }]);
    const rest = await as(viewer!, "identity.members.list", { limit: 20, offset: 1 });
    expect(rest.items.map((m) => m.userId)).toEqual([viewer!.userId]);
  });

  test("lists show only the caller's workspace", async ({ signup, as, team }) => {
    await team(["viewer", "member"]);
    const loner = await signup("loner");
    const page = await as(loner, "identity.members.list", { limit: 100, offset: 0 });
    expect(page.items.map((m) => m.userId)).toEqual([loner.userId]);
  });
});

describe("changing members", () => {
  test("an admin promotes a viewer: member.role_changed carries role and permissions before and after, and new claims act with it", async ({ gateway, as, team, eventsOf }) => {
    const { owner, members: [viewer, admin] } = await team(["viewer", "admin"]);
    const updated = await as(admin!, "identity.members.update", { userId: viewer!.userId, role: "member", permissions: { agents: { delete: false } } });
    expect(updated).toMatchObject({ userId: viewer!.userId, role: "member", permissions: { agents: { delete: false } } });
    const [changed] = await eventsOf(owner.workspaceId, "member.role_changed");
    expect(changed?.payload).toMatchObject({
      actor: { type: "user", id: admin!.userId },
      data: { userId: viewer!.userId, role: "member", before: "viewer", permissions: { agents: { delete: false } }, permissionsBefore: {} },
    });
    const { claim } = await gateway.request("identity.claims.issue", { accessToken: viewer!.accessToken });
    const payload = z.object({ role: z.string(), perms: z.unknown() }).parse(JSON.parse(Buffer.from(claim.split(".")[1] ?? "", "base64url").toString()));
    expect(payload).toEqual({ role: "member", perms: { agents: { delete: false } } });
  });

  test("a change that changes nothing emits nothing", async ({ as, team, eventsOf }) => {
    const { owner, members: [viewer] } = await team(["viewer"]);
    await as(owner, "identity.members.update", { userId: viewer!.userId, role: "viewer" });
    expect(await eventsOf(owner.workspaceId, "member.role_changed")).toEqual([]);
  });

  test("an admin may neither change an owner nor make someone owner; an owner may", async ({ as, team }) => {
    const { owner, members: [viewer, admin] } = await team(["viewer", "admin"]);
    await expect(as(admin!, "identity.members.update", { userId: owner.userId, role: "admin" })).rejects.toMatchObject({ status: 403 });
    await expect(as(admin!, "identity.members.update", { userId: owner.userId, permissions: { billing: { manage: false } } })).rejects.toMatchObject({ status: 403 });
    await expect(as(admin!, "identity.members.update", { userId: viewer!.userId, role: "owner" })).rejects.toMatchObject({ status: 403 });
    await expect(as(owner, "identity.members.update", { userId: viewer!.userId, role: "owner" })).resolves.toMatchObject({ role: "owner" });
  });

  test("viewers and members may not change anyone", async ({ as, team }) => {
    const { members: [viewer, member] } = await team(["viewer", "member"]);
    await expect(as(viewer!, "identity.members.update", { userId: member!.userId, role: "viewer" })).rejects.toMatchObject({ status: 403, code: "forbidden" });
    await expect(as(member!, "identity.members.update", { userId: viewer!.userId, role: "member" })).rejects.toMatchObject({ status: 403, code: "forbidden" });
  });

  test("a member of another workspace, or an unknown user id, is 404 member_not_found", async ({ signup, as, team, eventsOf }) => {
    const { owner } = await team([]);
    const other = await signup("other");
    for (const userId of [other.userId, "0190f5a0-0000-7000-8000-00000000dead"]) {
      await expect(as(owner, "identity.members.update", { userId, role: "viewer" })).rejects.toMatchObject({ status: 404, code: "member_not_found" });
      await expect(as(owner, "identity.members.remove", { userId })).rejects.toMatchObject({ status: 404, code: "member_not_found" });
    }
    // Untouched in its own workspace.
    expect((await as(other, "identity.me", {})).role).toBe("owner");
    // The foreign id, and only it, is reported in the caller's workspace; the other sees nothing.
    const reports = await eventsOf(owner.workspaceId, "security.cross_workspace_attempt");
    expect(reports.map((e) => e.payload.data)).toEqual([
      { actor: { type: "user", id: owner.userId }, targetType: "member", targetId: other.userId, operation: "members.update", ipAddress: null, userAgent: null },
      { actor: { type: "user", id: owner.userId }, targetType: "member", targetId: other.userId, operation: "members.remove", ipAddress: null, userAgent: null },
    ]);
    expect(await eventsOf(other.workspaceId, "security.cross_workspace_attempt")).toEqual([]);
  });

  test("a body that changes nothing at all is a 400", async ({ as, team }) => {
    const { owner } = await team([]);
    await expect(as(owner, "identity.members.update", { userId: owner.userId })).rejects.toMatchObject({ status: 400 });
  });
});

describe("removing members", () => {
  test("an admin removes a member: member.removed, and the removed member's token goes stale", async ({ gateway, as, team, eventsOf }) => {
    const { owner, members: [member, admin] } = await team(["member", "admin"]);
    await expect(as(admin!, "identity.members.remove", { userId: member!.userId })).resolves.toEqual({ userId: member!.userId, removed: true });
    const [removed] = await eventsOf(owner.workspaceId, "member.removed");
    expect(removed?.payload.data).toEqual({ userId: member!.userId, role: "member" });
    await expect(gateway.request("identity.claims.issue", { accessToken: member!.accessToken })).rejects.toMatchObject({ status: 401, code: "token_stale" });
  });

  test("an admin may not remove an owner", async ({ as, team }) => {
    const { owner, members: [admin] } = await team(["admin"]);
    await expect(as(admin!, "identity.members.remove", { userId: owner.userId })).rejects.toMatchObject({ status: 403 });
  });
});

describe("the last owner", () => {
  test("can be neither demoted nor removed, by itself or anyone", async ({ as, team }) => {
    const { owner } = await team([]);
    await expect(as(owner, "identity.members.update", { userId: owner.userId, role: "admin" })).rejects.toMatchObject({ status: 409, code: "last_owner" });
    await expect(as(owner, "identity.members.remove", { userId: owner.userId })).rejects.toMatchObject({ status: 409, code: "last_owner" });
    // Its permissions may change: it stays an owner.
    await expect(as(owner, "identity.members.update", { userId: owner.userId, permissions: { billing: { manage: true } } })).resolves.toMatchObject({ role: "owner" });
  });

  test("with two owners, one may leave; then the other is the last", async ({ as, team }) => {
    const { owner, members: [second] } = await team(["owner"]);
    await expect(as(second!, "identity.members.remove", { userId: second!.userId })).resolves.toMatchObject({ removed: true });
    await expect(as(owner, "identity.members.remove", { userId: owner.userId })).rejects.toMatchObject({ status: 409, code: "last_owner" });
  });

  test("two owners demoting each other at once: exactly one succeeds, one owner remains", async ({ as, team }) => {
    for (let round = 0; round < 3; round += 1) {
      const { owner, members: [second] } = await team(["owner"]);
      const outcomes = await Promise.allSettled([
        as(owner, "identity.members.update", { userId: second!.userId, role: "admin" }),
        as(second!, "identity.members.update", { userId: owner.userId, role: "admin" }),
      ]);
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      // The loser is refused either by the owner lock (409 last_owner) or, when the winner
      // committed before the loser's claim was issued, as the admin it has become (403).
      const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
      expect([409, 403]).toContain(refused?.reason?.status);
      const survivor = outcomes[0]?.status === "fulfilled" ? owner : second!;
      const page = await as(survivor, "identity.members.list", { limit: 100, offset: 0 });
      expect(page.items.filter((m) => m.role === "owner")).toHaveLength(1);
    }
  });

  test("two owners removing themselves at once: exactly one leaves", async ({ as, team }) => {
    const { owner, members: [second] } = await team(["owner"]);
    const outcomes = await Promise.allSettled([
      as(owner, "identity.members.remove", { userId: owner.userId }),
      as(second!, "identity.members.remove", { userId: second!.userId }),
    ]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    expect(outcomes.find((o) => o.status === "rejected")).toMatchObject({ reason: { status: 409, code: "last_owner" } });
  });
});

describe("switching workspaces", () => {
  test("a member gets a token for the workspace with its role there; a non-member gets 404", async ({ signup, as }) => {
    const owner = await signup("owner");
    const mate = await signup("mate");
    await expect(as(mate, "identity.auth.switch", { workspaceId: owner.workspaceId })).rejects.toMatchObject({ status: 404, code: "workspace_not_found" });
    await as(owner, "identity.members.add", { email: mate.email, role: "viewer" });
    const grant = await as(mate, "identity.auth.switch", { workspaceId: owner.workspaceId });
    expect(grant).toMatchObject({ role: "viewer", workspace: { id: owner.workspaceId } });
    const me = await as({ ...mate, workspaceId: owner.workspaceId, accessToken: grant.accessToken }, "identity.me", {});
    expect(me).toMatchObject({ role: "viewer", workspace: { id: owner.workspaceId } });
    expect(me.memberships).toHaveLength(2);
  });
});

describe("workspaces", () => {
  test("a user creates a workspace it owns: workspace.created and member.added in it, published with a claim for it", async ({ db, identity, signup, as, switchTo, eventsOf }) => {
    const user = await signup("founder");
    const created = await as(user, "identity.workspaces.create", { name: "Second Shop", slug: `second-shop-${seq}` });
    expect(created).toMatchObject({ name: "Second Shop", slug: `second-shop-${seq}`, settings: {} });
    const events = await eventsOf(created.id);
    expect(events.map((e) => e.type)).toEqual(["workspace.created", "member.added"]);
    expect(events[0]?.payload.data).toEqual({ workspace: { id: created.id, name: "Second Shop", slug: `second-shop-${seq}` }, ownerId: user.userId });
    expect(events[1]?.payload.data).toEqual({ userId: user.userId, email: user.email, role: "owner" });
    const context = await inWorkspace(db, created.id, (tx) => tx.selectFrom("outbox").select("context").where("workspace_id", "=", created.id).executeTakeFirstOrThrow());
    const claim = z.object({ claim: z.string() }).parse(context.context).claim;
    const { payload } = await jwtVerify(claim, createLocalJWKSet({ keys: identity.keys.publicJwks().keys.map((k) => ({ ...k })) }), { typ: CLAIM_TYP });
    expect(payload).toMatchObject({ ws: created.id, sub: user.userId, role: "owner", act: "user" });
    const owner = await switchTo(user, created.id);
    expect((await as(owner, "identity.me", {})).role).toBe("owner");
    const list = await as(user, "identity.workspaces.list", { limit: 20, offset: 0 });
    expect(list.items.map((w) => [w.id, w.role])).toEqual([[user.workspaceId, "owner"], [created.id, "owner"]]);
    expect(list.pagination).toMatchObject({ total: 2, hasMore: false });
  });

  test("a taken slug is 409 slug_taken; a bad one is 400; without a slug one is derived", async ({ signup, as }) => {
    const user = await signup("slugger");
    const slug = `taken-${seq}`;
    await as(user, "identity.workspaces.create", { name: "A", slug });
    await expect(as(user, "identity.workspaces.create", { name: "B", slug })).rejects.toMatchObject({ status: 409, code: "slug_taken" });
    for (const bad of ["Upper", "-dash", "dash-", "two--dashes", "spa ce", ""]) {
      await expect(as(user, "identity.workspaces.create", { name: "C", slug: bad }), bad).rejects.toMatchObject({ status: 400, details: { slug: expect.any(String) } });
    }
    const derived = await as(user, "identity.workspaces.create", { name: "  Ünïcode Café & Co  " });
    expect(derived.slug).toMatch(/^unicode-cafe-co(-[0-9a-f]{6})?$/);
  });

  test("any member reads the workspace; only admins and owners change it, merging settings", async ({ as, team, eventsOf }) => {
    const { owner, members: [viewer, admin] } = await team(["viewer", "admin"]);
    await expect(as(viewer!, "identity.workspace.get", {})).resolves.toMatchObject({ id: owner.workspaceId, settings: {} });
    await expect(as(viewer!, "identity.workspace.update", { name: "Mine now" })).rejects.toMatchObject({ status: 403, code: "forbidden" });
    await as(owner, "identity.workspace.update", { settings: { region: "eu", theme: "dark" } });
    const updated = await as(admin!, "identity.workspace.update", { name: "Renamed", settings: { theme: null, locale: "fr" } });
    expect(updated).toMatchObject({ name: "Renamed", settings: { region: "eu", locale: "fr" } });
    expect(updated.settings).not.toHaveProperty("theme");
    const events = await eventsOf(owner.workspaceId, "workspace.updated");
    expect(events).toHaveLength(2);
    expect(events[1]?.payload).toMatchObject({
      actor: { id: admin!.userId },
      data: { workspace: { name: "Renamed" }, before: { name: expect.stringMatching(/^owner /) }, settings: { region: "eu", locale: "fr" } },
    });
  });

  test("events leave the outbox: the relay publishes them", async ({ team, eventsOf }) => {
    const { owner } = await team(["viewer"]);
    const deadline = Date.now() + 5_000;
    for (;;) {
      const events = await eventsOf(owner.workspaceId);
      if (events.length > 0 && events.every((e) => e.published_at !== null)) break;
      if (Date.now() > deadline) throw new Error(`unpublished: ${JSON.stringify(events.map((e) => e.type))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
