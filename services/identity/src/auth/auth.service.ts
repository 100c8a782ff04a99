import { errors as joseErrors, jwtVerify } from "jose";
import {
  ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, AccessTokenPayload, CLAIM_ISSUER, Permissions, authorize, lowerRole, principalOf, type ClaimGrant, type LoginBody, type LoginResult,
  type SwitchWorkspaceBody,
  type Me, type SignupBody, type SignupResult, type WorkspaceClaim, uuidv7,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import type { RequestContext } from "@galaxy/bus";
import { dummyHash, hashPassword, verifyPassword } from "../crypto/passwords";
import type { IdentityDb } from "../db";
import { ActionNotAllowedError, EmailTakenError, InvalidCredentialsError, InvalidTokenError, NoWorkspaceError, TokenStaleError } from "../errors";
import { SERVICE_CLAIM_TTL_S, type SigningKeys } from "../keys/signing-keys";
import { findUserByEmail, findUserById, insertUser } from "../users/users.repository";
import { findMember, findWorkspace, insertMember, insertWorkspace, listMemberships, slugTaken, slugify } from "../workspaces/workspaces.repository";

export interface AuthServiceDeps {
  db: Kysely<IdentityDb>;
  keys: SigningKeys;
  relay: OutboxRelay;
}

/** Sign-up, login, and the claims that carry a principal onto the bus. */
export class AuthService {
  constructor(private readonly deps: AuthServiceDeps) {}

  async signup(body: SignupBody, ctx: RequestContext): Promise<SignupResult> {
    const { db, keys, relay } = this.deps;
    if (await findUserByEmail(db, body.email)) throw new EmailTakenError();
    const passwordHash = await hashPassword(body.password);
    const userId = uuidv7();
    const workspaceId = uuidv7();
    let events: OutboxRow[] = [];
    const create = (suffixed: boolean) => inWorkspace(db, workspaceId, async (tx) => {
      events = [];
      let slug = slugify(body.workspaceName);
      if (suffixed || (await slugTaken(tx, slug))) slug = `${slug}-${workspaceId.slice(-6)}`;
      const ws = { id: workspaceId, name: body.workspaceName, slug };
      try {
        await insertUser(tx, { id: userId, email: body.email, name: body.name, passwordHash });
      } catch (error) {
        if (isUniqueViolation(error, "users_email")) throw new EmailTakenError();
        throw error;
      }
      await insertWorkspace(tx, ws);
      await insertMember(tx, { workspaceId, userId, role: "owner" });
      const { claim } = await keys.signClaim({ workspaceId, sub: userId, act: "user", role: "owner", expiresAt: nowS() + SERVICE_CLAIM_TTL_S });
      const context = {
        claim,
        traceparent: ctx.traceparent,
        correlationId: ctx.correlationId,
        causationId: ctx.correlationId,
        clientIp: ctx.clientIp,
        userAgent: ctx.userAgent,
      };
      const actor = { type: "user" as const, id: userId };
      events.push(await appendEvent(tx, { type: "workspace.created", workspaceId, actor, context, data: { workspace: ws, ownerId: userId } }));
      events.push(await appendEvent(tx, { type: "member.added", workspaceId, actor, context, data: { userId, email: body.email, role: "owner" } }));
      return ws;
    });
    // Two sign-ups naming their workspaces alike may both find the slug free; the one that
    // loses the race takes the suffixed slug instead of failing.
    const workspace = await create(false).catch((error: unknown) => {
      if (isUniqueViolation(error, "workspaces_slug")) return create(true);
      throw error;
    });
    relay.publishNow(events);
    const token = await keys.signAccessToken({ userId, workspaceId, role: "owner" });
    return {
      user: { id: userId, email: body.email, name: body.name },
      workspace,
      role: "owner",
      accessToken: token.token,
      expiresAt: token.expiresAt.toISOString(),
    };
  }

  async login(body: LoginBody): Promise<LoginResult> {
    const { db, keys } = this.deps;
    const user = await findUserByEmail(db, body.email);
    // Unknown email and wrong password cost the same and answer the same.
    const valid = await verifyPassword(body.password, user?.password_hash ?? (await dummyHash()));
    if (!user || !user.password_hash || !valid) throw new InvalidCredentialsError();
    const memberships = await listMemberships(db, user.id);
    const chosen = body.workspaceId ? memberships.find((m) => m.workspace.id === body.workspaceId) : memberships[0];
    if (!chosen) throw new NoWorkspaceError();
    const token = await keys.signAccessToken({ userId: user.id, workspaceId: chosen.workspace.id, role: chosen.role });
    return { accessToken: token.token, expiresAt: token.expiresAt.toISOString(), workspace: chosen.workspace, role: chosen.role };
  }

  /** A token for another workspace of the caller's (docs/api.md `POST /api/auth/switch`); not a member → 404. */
  async switchWorkspace(claim: WorkspaceClaim, body: SwitchWorkspaceBody): Promise<LoginResult> {
    const { db, keys } = this.deps;
    if (!authorize(principalOf(claim), "workspaces.switch")) throw new ActionNotAllowedError("switch workspaces with this credential");
    const user = await findUserById(db, claim.sub);
    if (!user) throw new TokenStaleError();
    const chosen = (await listMemberships(db, user.id)).find((m) => m.workspace.id === body.workspaceId);
    if (!chosen) throw new NoWorkspaceError();
    const token = await keys.signAccessToken({ userId: user.id, workspaceId: chosen.workspace.id, role: chosen.role });
    return { accessToken: token.token, expiresAt: token.expiresAt.toISOString(), workspace: chosen.workspace, role: chosen.role };
  }

  /**
   * Turns a verified access token into a workspace claim with the member's current role and
   * permissions: a removed member gets `token_stale`, a demoted one acts with the new role.
   */
  async issueClaim(accessToken: string): Promise<ClaimGrant> {
    const { db, keys } = this.deps;
    const payload = await this.verifyAccessToken(accessToken);
    // A user deleted since (e.g. by the identity provider's user sync) keeps no access.
    if (!(await findUserById(db, payload.sub))) throw new TokenStaleError();
    const member = await inWorkspace(db, payload.ws, (tx) => findMember(tx, payload.ws, payload.sub));
    if (!member) throw new TokenStaleError();
    const perms = Permissions.safeParse(member.permissions);
    return keys.signClaim({
      workspaceId: payload.ws,
      sub: payload.sub,
      act: "user",
      role: member.role,
      ...(perms.success && Object.keys(perms.data).length > 0 ? { perms: perms.data } : {}),
      expiresAt: payload.exp,
    });
  }

  /** A claim for work a service does on its own (a schedule tick, an event derived later). */
  async issueServiceClaim(workspaceId: string, service: string): Promise<ClaimGrant> {
    return this.deps.keys.signClaim({ workspaceId, sub: service, act: "service", role: "admin", expiresAt: nowS() + SERVICE_CLAIM_TTL_S });
  }

  async me(claim: WorkspaceClaim): Promise<Me> {
    const { db } = this.deps;
    // An API key answers for its creator, but within its own workspace and role alone.
    const viaKey = claim.act === "api_key";
    const userId = viaKey && claim.own ? claim.own : claim.sub;
    const user = await findUserById(db, userId);
    if (!user) throw new TokenStaleError();
    const current = await inWorkspace(db, claim.ws, async (tx) => ({ workspace: await findWorkspace(tx, claim.ws), member: await findMember(tx, claim.ws, userId) }));
    if (!current.workspace || !current.member) throw new TokenStaleError();
    const role = viaKey ? lowerRole(claim.role, current.member.role) : current.member.role;
    return {
      user: { id: user.id, email: user.email, name: user.name },
      workspace: current.workspace,
      role,
      memberships: viaKey ? [{ workspace: current.workspace, role }] : await listMemberships(db, user.id),
    };
  }

  /** Verifies a Galaxy access token with identity's own keys (algorithms, issuer, audience and `typ` pinned). */
  async verifyAccessToken(token: string): Promise<AccessTokenPayload> {
    try {
      const { payload } = await jwtVerify(token, this.deps.keys.verificationKeys(), {
        algorithms: ["EdDSA"],
        issuer: CLAIM_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
        typ: ACCESS_TOKEN_TYP,
      });
      const parsed = AccessTokenPayload.safeParse(payload);
      if (!parsed.success) throw new InvalidTokenError();
      return parsed.data;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new InvalidTokenError("The access token has expired");
      if (error instanceof joseErrors.JOSEError) throw new InvalidTokenError();
      throw error;
    }
  }
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (!(error instanceof Error && "code" in error && error.code === "23505")) return false;
  return constraint === undefined || ("constraint" in error && error.constraint === constraint);
}
