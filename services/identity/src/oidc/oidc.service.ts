import {
  SYSTEM_WORKSPACE_ID, type ClerkUser, type EventActor, type ExchangeBody, type ExternalIdentityRef, type ExternalTokenClaims, type LoginResult,
  type UserSyncRequest, type UserSyncResult, type Workspace, uuidv7,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, type EventContext, type Kysely, type OutboxRelay, type OutboxRow, type Transaction } from "@galaxy/db";
import type { RequestContext } from "@galaxy/bus";
import type { IdentityDb } from "../db";
import { EmailTakenError, InvalidExternalTokenError, NoWorkspaceError, OidcNotConfiguredError } from "../errors";
import { SERVICE_CLAIM_TTL_S, type SigningKeys } from "../keys/signing-keys";
import { findUserByEmail, findUserById } from "../users/users.repository";
import { insertMember, insertWorkspace, isUniqueViolation, listMemberships, slugTaken, slugify } from "../workspaces/workspaces.repository";
import { displayName, profileOfClerkUser, type ExternalProfile } from "./clerk-profile";
import {
  claimDelivery, findDelivery, findLink, finishDelivery, insertExternalUser, insertLink, lockKey, softDeleteUser, touchLink,
  updateUserProfile,
} from "./oidc.repository";
import type { ExternalTokenVerifier } from "./oidc.verifier";

export interface OidcServiceDeps {
  db: Kysely<IdentityDb>;
  keys: SigningKeys;
  relay: OutboxRelay;
  /** Absent when no external issuer is configured: exchange and sync answer 404 `oidc_not_configured`. */
  verifier: ExternalTokenVerifier | undefined;
}

const IDENTITY_ACTOR: EventActor = { type: "service", id: "identity" };

/** A user sync's outcome inside its transaction, and the events it wrote. */
interface Outcome {
  result: UserSyncResult;
  events: OutboxRow[];
}

/**
 * External identity (docs/api.md): trades an ID token of the configured OIDC issuer for a
 * Galaxy access token, creating the user on first sight; and applies the provider's user
 * webhooks (created, updated, deleted), each a system-workspace event.
 */
export class OidcService {
  constructor(private readonly deps: OidcServiceDeps) {}

  async exchange(body: ExchangeBody, ctx: RequestContext): Promise<LoginResult> {
    const { db, keys } = this.deps;
    const verifier = this.requireVerifier();
    const claims = await verifier.verify(body.idToken);
    const ref = { issuer: verifier.issuer, subject: claims.sub };
    const link = await findLink(db, ref);
    const userId = link ? link.userId : await this.firstSight(claims, ref, ctx);
    const user = await findUserById(db, userId);
    if (!user) throw new InvalidExternalTokenError("This account has been deleted");
    let memberships = await listMemberships(db, userId);
    if (memberships.length === 0) {
      await this.createPersonalWorkspace({ id: user.id, email: user.email, name: user.name }, ctx);
      memberships = await listMemberships(db, userId);
    }
    const chosen = body.workspaceId ? memberships.find((m) => m.workspace.id === body.workspaceId) : memberships[0];
    if (!chosen) throw new NoWorkspaceError();
    const token = await keys.signAccessToken({ userId, workspaceId: chosen.workspace.id, role: chosen.role });
    return { accessToken: token.token, expiresAt: token.expiresAt.toISOString(), workspace: chosen.workspace, role: chosen.role };
  }

  /** Applies one verified provider webhook; its `webhook-id` makes a repeat change nothing. */
  async sync(body: UserSyncRequest, ctx: RequestContext): Promise<UserSyncResult> {
    const { db, relay } = this.deps;
    const verifier = this.requireVerifier();
    const ref = { issuer: verifier.issuer, subject: body.event.data.id };
    const context = await this.systemContext(ctx);
    const outcome = await inWorkspace(db, SYSTEM_WORKSPACE_ID, async (tx): Promise<Outcome> => {
      if (!(await claimDelivery(tx, body.webhookId, body.event.type))) {
        const prior = await findDelivery(tx, body.webhookId);
        return { result: { status: "duplicate", userId: prior?.userId ?? null }, events: [] };
      }
      await lockKey(tx, `${ref.issuer}|${ref.subject}`);
      const event = body.event;
      let applied: Outcome;
      switch (event.type) {
        case "user.created":
        case "user.updated":
          applied = await this.upsertFromProvider(tx, ref, event.data, body.webhookId, context);
          break;
        case "user.deleted":
          applied = await this.deleteFromProvider(tx, ref, body.webhookId, context);
          break;
        default: {
          const _exhaustive: never = event;
          throw new Error(`unhandled user event ${JSON.stringify(_exhaustive)}`);
        }
      }
      await finishDelivery(tx, body.webhookId, { userId: applied.result.userId, status: applied.result.reason ? `${applied.result.status}:${applied.result.reason}` : applied.result.status });
      return applied;
    });
    relay.publishNow(outcome.events);
    return outcome.result;
  }

  private async upsertFromProvider(tx: Transaction<IdentityDb>, ref: ExternalIdentityRef, user: ClerkUser, webhookId: string, context: EventContext): Promise<Outcome> {
    const profile = profileOfClerkUser(user);
    const link = await findLink(tx, ref);
    if (!link) return this.linkOrCreate(tx, ref, profile, { source: "webhook", webhookId }, context);
    const current = await findUserById(tx, link.userId);
    if (!current) return skipped(link.userId, "user_deleted");
    // Deliveries may arrive out of order: an older state of the user never overwrites a newer one.
    if (profile.updatedAt !== null && link.sourceUpdatedAt !== null && profile.updatedAt < link.sourceUpdatedAt) return skipped(link.userId, "stale");
    let email = profile.email ?? current.email;
    // Another Galaxy account holds the new address: keep the old one rather than take it over.
    if (email !== current.email) {
      const holder = await findUserByEmail(tx, email);
      if (holder && holder.id !== current.id) email = current.email;
    }
    await touchLink(tx, ref, profile.updatedAt ?? link.sourceUpdatedAt);
    if (email === current.email && profile.name === current.name) return skipped(current.id, "unchanged");
    await updateUserProfile(tx, current.id, { email, name: profile.name });
    const event = await appendEvent(tx, {
      type: "user.updated",
      workspaceId: SYSTEM_WORKSPACE_ID,
      actor: IDENTITY_ACTOR,
      context,
      data: { userId: current.id, email, name: profile.name, before: { email: current.email, name: current.name }, external: ref, webhookId },
    });
    return { result: { status: "applied", userId: current.id }, events: [event] };
  }

  private async deleteFromProvider(tx: Transaction<IdentityDb>, ref: ExternalIdentityRef, webhookId: string, context: EventContext): Promise<Outcome> {
    const link = await findLink(tx, ref);
    if (!link) return skipped(null, "unknown_user");
    const current = await findUserById(tx, link.userId);
    if (!current) return skipped(link.userId, "user_deleted");
    await softDeleteUser(tx, current.id);
    const event = await appendEvent(tx, { type: "user.deleted", workspaceId: SYSTEM_WORKSPACE_ID, actor: IDENTITY_ACTOR, context, data: { userId: current.id, external: ref, webhookId } });
    return { result: { status: "applied", userId: current.id }, events: [event] };
  }

  /**
   * An external identity seen for the first time: linked to the account that holds its email
   * when the provider verified that email, else a new passwordless user. The transaction must
   * be in the system workspace; it holds the identity's lock.
   */
  private async linkOrCreate(
    tx: Transaction<IdentityDb>,
    ref: ExternalIdentityRef,
    profile: ExternalProfile,
    origin: { source: "exchange" | "webhook"; webhookId: string | null },
    context: EventContext,
  ): Promise<Outcome> {
    if (!profile.email) {
      if (origin.source === "exchange") throw new InvalidExternalTokenError("The identity provider's token carries no email");
      return skipped(null, "no_email");
    }
    const existing = await findUserByEmail(tx, profile.email);
    if (existing) {
      // Taking over a password account needs the provider's word that this person owns the address.
      if (!profile.emailVerified) {
        if (origin.source === "exchange") throw new EmailTakenError();
        return skipped(existing.id, "email_taken");
      }
      await insertLink(tx, ref, existing.id, profile.updatedAt);
      const event = await appendEvent(tx, {
        type: "user.linked",
        workspaceId: SYSTEM_WORKSPACE_ID,
        actor: origin.source === "exchange" ? { type: "user", id: existing.id } : IDENTITY_ACTOR,
        context,
        data: { userId: existing.id, email: existing.email, external: ref, source: origin.source, webhookId: origin.webhookId },
      });
      return { result: { status: "applied", userId: existing.id }, events: [event] };
    }
    const userId = uuidv7();
    try {
      await insertExternalUser(tx, { id: userId, email: profile.email, name: profile.name });
    } catch (error) {
      if (isUniqueViolation(error, "users_email")) throw new EmailTakenError();
      throw error;
    }
    await insertLink(tx, ref, userId, profile.updatedAt);
    const event = await appendEvent(tx, {
      type: "user.created",
      workspaceId: SYSTEM_WORKSPACE_ID,
      actor: origin.source === "exchange" ? { type: "user", id: userId } : IDENTITY_ACTOR,
      context,
      data: { userId, email: profile.email, name: profile.name, external: ref, source: origin.source, webhookId: origin.webhookId },
    });
    return { result: { status: "applied", userId }, events: [event] };
  }

  /** First sight at exchange: the token's email and name make (or find) the user; returns its id. */
  private async firstSight(claims: ExternalTokenClaims, ref: ExternalIdentityRef, ctx: RequestContext): Promise<string> {
    const { db, relay } = this.deps;
    if (claims.email_verified === false) throw new InvalidExternalTokenError("The identity provider has not verified this email");
    const profile: ExternalProfile = {
      email: claims.email ?? null,
      emailVerified: claims.email_verified === true,
      name: displayName(claims.name, claims.email),
      updatedAt: null,
    };
    const context = await this.systemContext(ctx);
    const outcome = await inWorkspace(db, SYSTEM_WORKSPACE_ID, async (tx): Promise<Outcome> => {
      await lockKey(tx, `${ref.issuer}|${ref.subject}`);
      // A concurrent exchange (or a webhook) may have linked it while this one waited.
      const link = await findLink(tx, ref);
      if (link) return { result: { status: "duplicate", userId: link.userId }, events: [] };
      return this.linkOrCreate(tx, ref, profile, { source: "exchange", webhookId: null }, context);
    });
    relay.publishNow(outcome.events);
    if (!outcome.result.userId) throw new InvalidExternalTokenError();
    return outcome.result.userId;
  }

  /** A user with no workspace (first exchange) gets one of its own, as at sign-up: owner, with its events. */
  private async createPersonalWorkspace(user: { id: string; email: string; name: string }, ctx: RequestContext): Promise<void> {
    const { db, keys, relay } = this.deps;
    const workspaceId = uuidv7();
    const name = `${user.name}'s workspace`.slice(0, 200);
    const create = (suffixed: boolean) =>
      inWorkspace(db, workspaceId, async (tx): Promise<OutboxRow[]> => {
        await lockKey(tx, `user|${user.id}`);
        // Two first exchanges at once: the second finds the first one's workspace.
        if ((await listMemberships(tx, user.id)).length > 0) return [];
        let slug = slugify(name);
        if (suffixed || (await slugTaken(tx, slug))) slug = `${slug}-${workspaceId.slice(-6)}`;
        const ws: Workspace = { id: workspaceId, name, slug };
        await insertWorkspace(tx, ws);
        await insertMember(tx, { workspaceId, userId: user.id, role: "owner" });
        const { claim } = await keys.signClaim({ workspaceId, sub: user.id, act: "user", role: "owner", expiresAt: nowS() + SERVICE_CLAIM_TTL_S });
        const context = eventContext(claim, ctx);
        const actor: EventActor = { type: "user", id: user.id };
        return [
          await appendEvent(tx, { type: "workspace.created", workspaceId, actor, context, data: { workspace: ws, ownerId: user.id } }),
          await appendEvent(tx, { type: "member.added", workspaceId, actor, context, data: { userId: user.id, email: user.email, role: "owner" } }),
        ];
      });
    const events = await create(false).catch((error: unknown) => {
      if (isUniqueViolation(error, "workspaces_slug")) return create(true);
      throw error;
    });
    relay.publishNow(events);
  }

  /** The context of system-workspace events: identity's own service claim for that workspace. */
  private async systemContext(ctx: RequestContext): Promise<EventContext> {
    const { claim } = await this.deps.keys.signClaim({ workspaceId: SYSTEM_WORKSPACE_ID, sub: "identity", act: "service", role: "admin", expiresAt: nowS() + SERVICE_CLAIM_TTL_S });
    return eventContext(claim, ctx);
  }

  private requireVerifier(): ExternalTokenVerifier {
    if (!this.deps.verifier) throw new OidcNotConfiguredError();
    return this.deps.verifier;
  }
}

function skipped(userId: string | null, reason: string): Outcome {
  return { result: { status: "skipped", userId, reason }, events: [] };
}

function eventContext(claim: string, ctx: RequestContext): EventContext {
  return {
    claim,
    traceparent: ctx.traceparent,
    correlationId: ctx.correlationId,
    causationId: ctx.correlationId,
    clientIp: ctx.clientIp,
    userAgent: ctx.userAgent,
  };
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}
