import { errors as joseErrors, jwtVerify } from "jose";
import { JwksCache, type KeySet } from "@galaxy/bus";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, AccessTokenPayload, CLAIM_ISSUER, UnauthorizedError, UnavailableError, type Jwks } from "@galaxy/contracts";

/**
 * Verifies Galaxy access tokens locally against identity's JWKS: EdDSA only, identity's
 * issuer, the API audience and `typ` at+jwt, so a workspace claim or a foreign token never
 * passes. An unknown key id makes it fetch the JWKS again (at most once a second, `JwksCache`).
 */
export class AccessTokenVerifier {
  private readonly keys: JwksCache;

  constructor(loadJwks: () => Promise<Jwks>) {
    this.keys = new JwksCache(loadJwks);
  }

  /** Forgets the JWKS (a key was revoked): the next token makes it fetch the keys again. */
  reset(): void {
    this.keys.reset();
  }

  async verify(token: string): Promise<AccessTokenPayload> {
    return this.verifyOnce(token, false);
  }

  private async verifyOnce(token: string, retried: boolean): Promise<AccessTokenPayload> {
    let keySet: KeySet;
    try {
      keySet = retried ? await this.keys.refetch() : await this.keys.current();
    } catch (error) {
      throw new UnavailableError("Cannot verify tokens right now: identity did not answer", { cause: error });
    }
    try {
      const { payload } = await jwtVerify(token, keySet, { algorithms: ["EdDSA", "ES256"], issuer: CLAIM_ISSUER, audience: ACCESS_TOKEN_AUDIENCE, typ: ACCESS_TOKEN_TYP });
      const parsed = AccessTokenPayload.safeParse(payload);
      if (!parsed.success) throw new UnauthorizedError("The access token is malformed", "invalid_token");
      return parsed.data;
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey && !retried) return this.verifyOnce(token, true);
      if (error instanceof joseErrors.JWTExpired) throw new UnauthorizedError("The access token has expired", "token_expired");
      if (error instanceof joseErrors.JOSEError) throw new UnauthorizedError("The access token is invalid", "invalid_token");
      throw error;
    }
  }
}
