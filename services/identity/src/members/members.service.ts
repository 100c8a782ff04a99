import { isDeepStrictEqual } from "node:util";
import {
  authorize, pagination, principalOf, type Action, type AddMemberBody, type EventActor, type Member, type PageQuery, type Pagination, type UpdateMemberRequest,
  type WorkspaceClaim,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, reportCrossWorkspaceAttempt, type EventContext, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import type { IdentityDb } from "../db";
import { ActionNotAllowedError, AlreadyMemberError, LastOwnerError, MemberNotFoundError, UserNotFoundError } from "../errors";
import { findUserByEmail } from "../users/users.repository";
import { deleteMember, getMember, insertMemberIfAbsent, listMembers, lockOwners, memberExistsElsewhere, setMemberAccess } from "./members.repository";

/** Who asks, as the bus verified it, and how the events it causes are published. */
export interface MemberCaller {
  claim: WorkspaceClaim;
  eventContext: () => EventContext;
  /** Where a failure that must not change the answer (reporting an attempt) is logged. */
  logger?: Logger | undefined;
}

export interface MembersServiceDeps {
  db: Kysely<IdentityDb>;
  relay: OutboxRelay;
}

/**
 * A workspace's members: list, add an existing user, change a role or permission overrides,
 * remove. Admins manage members, owners alone manage owners, and the last owner stays.
 */
export class MembersService {
  constructor(private readonly deps: MembersServiceDeps) {}

  async list(caller: MemberCaller, page: PageQuery): Promise<{ items: Member[]; pagination: Pagination }> {
    requireAllowed(caller.claim, "members.read", "list members");
    const ws = caller.claim.ws;
    const { items, total } = await inWorkspace(this.deps.db, ws, (tx) => listMembers(tx, ws, page));
    return { items, pagination: pagination(total, page) };
  }

  async add(caller: MemberCaller, body: AddMemberBody): Promise<Member> {
    const { claim } = caller;
    requireAllowed(claim, "members.manage", "add members");
    if (body.role === "owner") requireAllowed(claim, "members.manage_owners", "make someone an owner");
    // Users are global rows (no workspace column): finding one by email needs no definer.
    const user = await findUserByEmail(this.deps.db, body.email);
    if (!user) throw new UserNotFoundError();
    const ws = claim.ws;
    const events: OutboxRow[] = [];
    const member = await inWorkspace(this.deps.db, ws, async (tx) => {
      if (await getMember(tx, ws, user.id)) throw new AlreadyMemberError();
      // A concurrent add of the same user inserts nothing here and answers 409.
      if (!(await insertMemberIfAbsent(tx, { workspaceId: ws, userId: user.id, role: body.role }))) throw new AlreadyMemberError();
      events.push(await appendEvent(tx, { type: "member.added", workspaceId: ws, actor: actorOf(claim), context: caller.eventContext(), data: { userId: user.id, email: user.email, role: body.role } }));
      const added = await getMember(tx, ws, user.id);
      if (!added) throw new Error("a member just added is missing");
      return added;
    });
    this.deps.relay.publishNow(events);
    return member;
  }

  async update(caller: MemberCaller, request: UpdateMemberRequest): Promise<Member> {
    const { claim } = caller;
    const ws = claim.ws;
    const events: OutboxRow[] = [];
    const member = await inWorkspace(this.deps.db, ws, async (tx) => {
      const owners = await lockOwners(tx, ws);
      const target = await getMember(tx, ws, request.userId, { forUpdate: true });
      if (!target) return null;
      requireAllowed(claim, "members.manage", "change members");
      const role = request.role ?? target.role;
      const permissions = request.permissions ?? target.permissions;
      if (target.role === "owner") requireAllowed(claim, "members.manage_owners", "change an owner");
      if (role === "owner" && target.role !== "owner") requireAllowed(claim, "members.manage_owners", "make someone an owner");
      if (target.role === "owner" && role !== "owner" && !owners.some((id) => id !== target.userId)) throw new LastOwnerError();
      if (role === target.role && isDeepStrictEqual(permissions, target.permissions)) return target;
      await setMemberAccess(tx, ws, target.userId, { role, permissions });
      events.push(
        await appendEvent(tx, {
          type: "member.role_changed",
          workspaceId: ws,
          actor: actorOf(claim),
          context: caller.eventContext(),
          data: { userId: target.userId, role, before: target.role, permissions, permissionsBefore: target.permissions },
        }),
      );
      return { ...target, role, permissions };
    });
    if (!member) throw await this.notFound(caller, request.userId, "members.update");
    this.deps.relay.publishNow(events);
    return member;
  }

  async remove(caller: MemberCaller, userId: string): Promise<{ userId: string; removed: true }> {
    const { claim } = caller;
    const ws = claim.ws;
    const events: OutboxRow[] = [];
    const found = await inWorkspace(this.deps.db, ws, async (tx) => {
      const owners = await lockOwners(tx, ws);
      const target = await getMember(tx, ws, userId, { forUpdate: true });
      if (!target) return false;
      requireAllowed(claim, "members.manage", "remove members");
      if (target.role === "owner") {
        requireAllowed(claim, "members.manage_owners", "remove an owner");
        if (!owners.some((id) => id !== target.userId)) throw new LastOwnerError();
      }
      await deleteMember(tx, ws, userId);
      events.push(await appendEvent(tx, { type: "member.removed", workspaceId: ws, actor: actorOf(claim), context: caller.eventContext(), data: { userId, role: target.role } }));
      return true;
    });
    if (!found) throw await this.notFound(caller, userId, "members.remove");
    this.deps.relay.publishNow(events);
    return { userId, removed: true };
  }

  /**
   * The answer when no member has this user id here: always the same 404. When the user is a
   * member of another workspace, the attempt is also recorded as a
   * `security.cross_workspace_attempt` in the caller's workspace. Every miss asks, so a
   * foreign id and a random one cost the same query; a report that cannot be written is
   * logged, never answered (a 503 for foreign ids alone would tell what the 404 hides).
   */
  private async notFound(caller: MemberCaller, userId: string, operation: "members.update" | "members.remove"): Promise<MemberNotFoundError> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    await reportCrossWorkspaceAttempt({
      db, relay, claim, eventContext: () => caller.eventContext(), targetType: "member", targetId: userId, operation, logger: caller.logger,
      existsElsewhere: () => memberExistsElsewhere(db, userId, claim.ws),
    });
    return new MemberNotFoundError(userId);
  }
}

function requireAllowed(claim: WorkspaceClaim, action: Action, what: string): void {
  if (!authorize(principalOf(claim), action)) throw new ActionNotAllowedError(what);
}

export function actorOf(claim: WorkspaceClaim): EventActor {
  return { type: claim.act, id: claim.sub };
}
