import type { RequestContext } from "@galaxy/bus";
import { SYSTEM_WORKSPACE_ID, type ClaimGrant, type GrantSystemAdminRequest, type SystemAdminGrant } from "@galaxy/contracts";
import { appendEvent, inWorkspace, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import type { AuthService } from "../auth/auth.service";
import type { IdentityDb } from "../db";
import { SystemAdminRequiredError, TokenStaleError, UserNotFoundError } from "../errors";
import { SERVICE_CLAIM_TTL_S, type SigningKeys } from "../keys/signing-keys";
import { findUserByEmail, findUserById } from "../users/users.repository";
import { CLI_OPERATOR, OPERATOR_ACTOR, operatorEventContext } from "./operator-context";

export interface AdminServiceDeps {
  db: Kysely<IdentityDb>;
  keys: SigningKeys;
  auth: AuthService;
  relay: OutboxRelay;
}

/** The `system_admin` flag: granted by the operator CLI alone, and traded for operator claims. */
export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  /**
   * `identity.operator.grant_system_admin`: sets the flag and records `user.system_admin_granted`
   * in the system workspace, in one transaction. Granting it again changes nothing.
   *
   * @throws {UserNotFoundError} no account has this email
   */
  async grantSystemAdmin(body: GrantSystemAdminRequest, ctx: RequestContext): Promise<SystemAdminGrant> {
    const { db, keys, relay } = this.deps;
    const user = await findUserByEmail(db, body.email);
    if (!user) throw new UserNotFoundError();
    const context = await operatorEventContext(keys, ctx);
    let events: OutboxRow[] = [];
    const changed = await inWorkspace(db, SYSTEM_WORKSPACE_ID, async (tx) => {
      events = [];
      const updated = await tx.updateTable("users").set({ system_admin: true, updated_at: new Date() }).where("id", "=", user.id).where("system_admin", "=", false).returning("id").executeTakeFirst();
      if (!updated) return false;
      events.push(
        await appendEvent(tx, { type: "user.system_admin_granted", workspaceId: SYSTEM_WORKSPACE_ID, actor: OPERATOR_ACTOR, context, data: { userId: user.id, email: user.email } }),
      );
      return true;
    });
    relay.publishNow(events);
    ctx.logger.info({ userId: user.id, changed }, "system_admin granted");
    return { userId: user.id, email: user.email, systemAdmin: true, changed };
  }

  /**
   * `identity.claims.operator`: a system admin's verified access token for an operator claim on
   * the system workspace (`act: "operator"`, `sub` = the user), expiring with the token. The flag
   * is read from the database, not from the token's `sa`.
   *
   * @throws {SystemAdminRequiredError} the user does not hold the flag
   */
  async issueOperatorClaim(accessToken: string): Promise<ClaimGrant> {
    const { db, keys, auth } = this.deps;
    const payload = await auth.verifyAccessToken(accessToken);
    const user = await findUserById(db, payload.sub);
    if (!user) throw new TokenStaleError();
    if (!user.system_admin) throw new SystemAdminRequiredError();
    return keys.signClaim({ workspaceId: SYSTEM_WORKSPACE_ID, sub: user.id, act: "operator", role: "admin", expiresAt: payload.exp });
  }

  /**
   * `identity.operator.claim`: the operator CLI's claim on the system workspace (`sub:
   * "galaxy-cli"`), for the operator requests that take one (replays, dead letters). Like every
   * `svc.identity.operator.*` request, only the galaxy-cli NATS user may make it (infra/nats/).
   */
  async issueCliOperatorClaim(): Promise<ClaimGrant> {
    return this.deps.keys.signClaim({ workspaceId: SYSTEM_WORKSPACE_ID, sub: CLI_OPERATOR, act: "operator", role: "admin", expiresAt: Math.floor(Date.now() / 1000) + SERVICE_CLAIM_TTL_S });
  }
}
