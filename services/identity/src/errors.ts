import { ConflictError, GalaxyError, NotFoundError, UnauthorizedError } from "@galaxy/contracts";

/** Identity's errors; codes are listed in docs/errors.md. */
export class EmailTakenError extends ConflictError {
  constructor() {
    super("email_taken", "An account with this email already exists");
    this.name = "EmailTakenError";
  }
}

export class InvalidCredentialsError extends UnauthorizedError {
  constructor() {
    super("Email or password is incorrect", "invalid_credentials");
    this.name = "InvalidCredentialsError";
  }
}

export class InvalidTokenError extends UnauthorizedError {
  constructor(message = "The access token is invalid or expired") {
    super(message, "invalid_token");
    this.name = "InvalidTokenError";
  }
}

/** The token was valid when issued but its holder's membership changed since (docs/api.md). */
export class TokenStaleError extends UnauthorizedError {
  constructor() {
    super("Your access to this workspace has changed; sign in again", "token_stale");
    this.name = "TokenStaleError";
  }
}

export class NoWorkspaceError extends GalaxyError {
  constructor() {
    super(404, "workspace_not_found", "You are not a member of that workspace");
    this.name = "NoWorkspaceError";
  }
}

/** An API key that is unknown, revoked, expired, or whose creator left the workspace. */
export class InvalidApiKeyError extends UnauthorizedError {
  constructor(message = "The API key is invalid, revoked or expired") {
    super(message, "invalid_api_key");
    this.name = "InvalidApiKeyError";
  }
}

export class ApiKeyNotFoundError extends NotFoundError {
  constructor(id: string) {
    super("API key", id, "api_key_not_found");
    this.name = "ApiKeyNotFoundError";
  }
}

/** The caller's role (or the kind of credential it holds) does not allow the action. */
export class ActionNotAllowedError extends GalaxyError {
  constructor(what: string) {
    super(403, "forbidden", `You may not ${what}`);
    this.name = "ActionNotAllowedError";
  }
}

export class SlugTakenError extends ConflictError {
  constructor(slug: string) {
    super("slug_taken", `The workspace slug "${slug}" is taken`);
    this.name = "SlugTakenError";
  }
}

/** No account has this email (adding a member needs an existing user). */
export class UserNotFoundError extends GalaxyError {
  constructor() {
    super(404, "user_not_found", "No user has this email; they must sign up first");
    this.name = "UserNotFoundError";
  }
}

/** No such member in the caller's workspace (also for a member of another workspace). */
export class MemberNotFoundError extends GalaxyError {
  constructor(userId: string) {
    super(404, "member_not_found", `No member ${userId} in this workspace`);
    this.name = "MemberNotFoundError";
  }
}

export class AlreadyMemberError extends ConflictError {
  constructor() {
    super("already_member", "This user is already a member of the workspace");
    this.name = "AlreadyMemberError";
  }
}

/** A workspace always keeps at least one owner. */
export class LastOwnerError extends ConflictError {
  constructor() {
    super("last_owner", "The workspace's last owner can be neither demoted nor removed; make another member owner first");
    this.name = "LastOwnerError";
  }
}

/** The workspace holds no key for this provider (the worker then falls back to the environment's). */
export class CredentialNotFoundError extends NotFoundError {
  constructor(provider: string) {
    super("provider credential", provider, "credential_not_found");
    this.name = "CredentialNotFoundError";
  }
}

/** An external OIDC token that is forged, expired, of another issuer or audience, or unusable (docs/api.md, exchange). */
export class InvalidExternalTokenError extends UnauthorizedError {
  constructor(message = "The identity provider's token is invalid or expired") {
    super(message, "invalid_external_token");
    this.name = "InvalidExternalTokenError";
  }
}

/** No external OIDC issuer is configured (`OIDC_ISSUER`, `OIDC_JWKS_URL`): exchange and user sync do not exist here. */
export class OidcNotConfiguredError extends GalaxyError {
  constructor() {
    super(404, "oidc_not_configured", "No external identity provider is configured");
    this.name = "OidcNotConfiguredError";
  }
}

/** No signing key has this kid. */
export class SigningKeyNotFoundError extends NotFoundError {
  constructor(kid: string) {
    super("signing key", kid, "signing_key_not_found");
    this.name = "SigningKeyNotFoundError";
    this.message = `No signing key ${kid}`;
  }
}

/** The key that signs now cannot be revoked: rotate first (`galaxy keys rotate --now` after a compromise). */
export class SigningKeyActiveError extends ConflictError {
  constructor(kid: string) {
    super("signing_key_active", `Signing key ${kid} is the active key; rotate first (\`galaxy keys rotate --now\`), then revoke it`);
    this.name = "SigningKeyActiveError";
  }
}

/** An operator claim is for users who hold the `system_admin` flag (docs/api.md). */
export class SystemAdminRequiredError extends GalaxyError {
  constructor() {
    super(403, "system_admin_required", "Only system admins may do this");
    this.name = "SystemAdminRequiredError";
  }
}
