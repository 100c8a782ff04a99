import { ConflictError, GalaxyError, UnauthorizedError } from "@galaxy/contracts";

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

/** The token was valid when issued but its holder's membership changed since (CONTRACT §1). */
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
