import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet } from "jose";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, AccessTokenPayload, CLAIM_ISSUER, UnauthorizedError, type Jwks } from "@galaxy/contracts";

/**
 * Verifies Galaxy access tokens locally against identity's JWKS: EdDSA only, identity's
 * issuer, the API audience and `typ` at+jwt, so a workspace claim or a foreign token never
 * passes. An unknown key id makes it fetch the JWKS again (at most once a second).
 */
export class AccessTokenVerifier {
  private keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  private lastFetch = 0;
  private loading: Promise<void> | undefined;

  constructor(private readonly loadJwks: () => Promise<Jwks>) {}

  /** Forgets the JWKS (a key was revoked): the next token makes it fetch the keys again. */
  reset(): void {
    this.keySet = undefined;
  }

  async verify(token: string): Promise<AccessTokenPayload> {
    return this.verifyOnce(token, false);
  }

  private async verifyOnce(token: string, retried: boolean): Promise<AccessTokenPayload> {
    if (!this.keySet) await this.refresh();
    const keySet = this.keySet;
    if (!keySet) throw new UnauthorizedError("Cannot verify tokens right now", "invalid_token");
    try {
      const { payload } = await jwtVerify(token, keySet, { algorithms: ["EdDSA", "ES256"], issuer: CLAIM_ISSUER, audience: ACCESS_TOKEN_AUDIENCE, typ: ACCESS_TOKEN_TYP });
      const parsed = AccessTokenPayload.safeParse(payload);
      if (!parsed.success) throw new UnauthorizedError("The access token is malformed", "invalid_token");
      return parsed.data;
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey && !retried && Date.now() - this.lastFetch > 1_000) {
        await this.refresh();
        return this.verifyOnce(token, true);
      }
      if (error instanceof joseErrors.JWTExpired) throw new UnauthorizedError("The access token has expired", "token_expired");
      if (error instanceof joseErrors.JOSEError) throw new UnauthorizedError("The access token is invalid", "invalid_token");
      throw error;
    }
  }

  private async refresh(): Promise<void> {
    this.loading ??= this.loadJwks()
      .then((jwks) => {
        const set: JSONWebKeySet = { keys: jwks.keys.map((key) => ({ ...key })) };
        this.keySet = createLocalJWKSet(set);
        this.lastFetch = Date.now();
      })
      .finally(() => (this.loading = undefined));
    await this.loading;
  }
}
