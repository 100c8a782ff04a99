import {
  authorize, pagination, principalOf, ValidationError, WorkspaceSettings, type Action, type CreateWorkspaceBody, type PageQuery, type Pagination,
  type UpdateWorkspaceBody, type WorkspaceClaim, type WorkspaceDetails, type WorkspaceMembership, uuidv7,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, type EventContext, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import type { RequestContext } from "@galaxy/bus";
import type { IdentityDb } from "../db";
import { ActionNotAllowedError, NoWorkspaceError, SlugTakenError, TokenStaleError } from "../errors";
import { SERVICE_CLAIM_TTL_S, type SigningKeys } from "../keys/signing-keys";
import { actorOf, type MemberCaller } from "../members/members.service";
import { findUserById } from "../users/users.repository";
import {
  findWorkspaceDetails, insertMember, insertWorkspace, isUniqueViolation, listWorkspaceMemberships, slugTaken, slugify, updateWorkspace,
} from "./workspaces.repository";

export interface WorkspacesServiceDeps {
  db: Kysely<IdentityDb>;
  keys: SigningKeys;
  relay: OutboxRelay;
}

/** Workspaces: a user creates more of them and lists its own; admins rename and configure theirs. */
export class WorkspacesService {
  constructor(private readonly deps: WorkspacesServiceDeps) {}

  /**
   * A new workspace owned by the caller. It is created in a transaction of its own workspace,
   * and its events carry a claim signed for it (the caller's claim names the workspace it came from).
   */
  async create(claim: WorkspaceClaim, body: CreateWorkspaceBody, ctx: RequestContext): Promise<WorkspaceDetails> {
    const { db, keys, relay } = this.deps;
    requireAllowed(claim, "workspaces.create", "create workspaces with this credential");
    const user = await findUserById(db, claim.sub);
    if (!user) throw new TokenStaleError();
    const workspaceId = uuidv7();
    let events: OutboxRow[] = [];
    const create = (suffixed: boolean) =>
      inWorkspace(db, workspaceId, async (tx) => {
        events = [];
        let slug = body.slug ?? slugify(body.name);
        if (body.slug !== undefined) {
          if (await slugTaken(tx, slug)) throw new SlugTakenError(slug);
        } else if (suffixed || (await slugTaken(tx, slug))) {
          slug = `${slug}-${workspaceId.slice(-6)}`;
        }
        const ws = { id: workspaceId, name: body.name, slug };
        await insertWorkspace(tx, ws);
        await insertMember(tx, { workspaceId, userId: user.id, role: "owner" });
        const { claim: ownClaim } = await keys.signClaim({ workspaceId, sub: user.id, act: "user", role: "owner", expiresAt: nowS() + SERVICE_CLAIM_TTL_S });
        const context: EventContext = {
          claim: ownClaim,
          traceparent: ctx.traceparent,
          correlationId: ctx.correlationId,
          causationId: ctx.correlationId,
          clientIp: ctx.clientIp,
          userAgent: ctx.userAgent,
        };
        const actor = { type: "user" as const, id: user.id };
        events.push(await appendEvent(tx, { type: "workspace.created", workspaceId, actor, context, data: { workspace: ws, ownerId: user.id } }));
        events.push(await appendEvent(tx, { type: "member.added", workspaceId, actor, context, data: { userId: user.id, email: user.email, role: "owner" } }));
        const created = await findWorkspaceDetails(tx, workspaceId);
        if (!created) throw new Error("a workspace just created is missing");
        return created;
      });
    // Two callers may both find a slug free; the loser of a chosen slug gets a 409, the loser
    // of a derived one the suffixed slug.
    const workspace = await create(false).catch((error: unknown) => {
      if (!isUniqueViolation(error, "workspaces_slug")) throw error;
      if (body.slug !== undefined) throw new SlugTakenError(body.slug);
      return create(true);
    });
    relay.publishNow(events);
    return workspace;
  }

  /** The caller's workspaces, oldest membership first. */
  async list(claim: WorkspaceClaim, page: PageQuery): Promise<{ items: WorkspaceMembership[]; pagination: Pagination }> {
    requireAllowed(claim, "workspaces.list", "list workspaces with this credential");
    const all = await listWorkspaceMemberships(this.deps.db, claim.sub);
    return { items: all.slice(page.offset, page.offset + page.limit), pagination: pagination(all.length, page) };
  }

  async get(claim: WorkspaceClaim): Promise<WorkspaceDetails> {
    requireAllowed(claim, "workspace.read", "read this workspace");
    const workspace = await inWorkspace(this.deps.db, claim.ws, (tx) => findWorkspaceDetails(tx, claim.ws));
    if (!workspace) throw new NoWorkspaceError();
    return workspace;
  }

  /** Renames the workspace and merges `settings` into its settings (a `null` value removes a key). */
  async update(caller: MemberCaller, body: UpdateWorkspaceBody): Promise<WorkspaceDetails> {
    const { claim } = caller;
    requireAllowed(claim, "workspace.update", "change this workspace");
    const ws = claim.ws;
    const events: OutboxRow[] = [];
    const updated = await inWorkspace(this.deps.db, ws, async (tx) => {
      const current = await findWorkspaceDetails(tx, ws, { forUpdate: true });
      if (!current) throw new NoWorkspaceError();
      const settings: Record<string, unknown> = { ...current.settings };
      for (const [key, value] of Object.entries(body.settings ?? {})) {
        if (value === null) delete settings[key];
        else settings[key] = value;
      }
      const checked = WorkspaceSettings.safeParse(settings);
      if (!checked.success) throw new ValidationError("The merged settings are too large", { settings: "must be at most 16 KiB of JSON once merged" });
      const name = body.name ?? current.name;
      if (name === current.name && JSON.stringify(settings) === JSON.stringify(current.settings)) return current;
      await updateWorkspace(tx, ws, { name, settings });
      const next = { ...current, name, settings };
      events.push(
        await appendEvent(tx, {
          type: "workspace.updated",
          workspaceId: ws,
          actor: actorOf(claim),
          context: caller.eventContext(),
          data: { workspace: { id: ws, name, slug: current.slug }, before: { id: ws, name: current.name, slug: current.slug }, settings },
        }),
      );
      return next;
    });
    this.deps.relay.publishNow(events);
    return updated;
  }
}

function requireAllowed(claim: WorkspaceClaim, action: Action, what: string): void {
  if (!authorize(principalOf(claim), action)) throw new ActionNotAllowedError(what);
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}
