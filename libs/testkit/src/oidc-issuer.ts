import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import { LOCAL_OIDC_CLIENT_ID, LocalCodeGrant } from "./oidc-code-grant";

/** What a test may set on an ID token; everything has a sensible default. */
export interface IdTokenOptions {
  /** Defaults to the issuer's own URL. */
  issuer?: string;
  /** Defaults to the issuer's configured audience (none when it has none). */
  audience?: string | string[];
  /** Seconds from now; negative for an expired token (default 300). */
  expiresInS?: number;
  /** Signs with another key (same `kid`): a forged token. */
  key?: CryptoKey;
  /** Header overrides, e.g. `{ typ: "JWT" }`. */
  header?: Record<string, unknown>;
}

/** A local OIDC issuer: an RS256 key pair whose JWKS is served on 127.0.0.1, and a signer for ID tokens. */
export interface LocalOidcIssuer {
  /** The issuer URL (`iss` of its tokens), `http://127.0.0.1:<port>`. */
  issuer: string;
  /** `<issuer>/.well-known/jwks.json`. */
  jwksUrl: string;
  audience: string | undefined;
  kid: string;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  /** Signs an RS256 ID token with `claims` (e.g. `{sub, email, email_verified, name}`). */
  sign(claims: JWTPayload, options?: IdTokenOptions): Promise<string>;
  /** Another RS256 private key, unknown to the JWKS. */
  foreignKey(): Promise<CryptoKey>;
  /** The browser sign-in (authorization code with PKCE): `<issuer>/authorize`, `<issuer>/token`, the client id they know. */
  authorizationUrl: string;
  tokenUrl: string;
  clientId: string;
  /** Who `/authorize` signs in, at once and without a page: the claims of the ID token `/token` answers. */
  signInAs(claims: JWTPayload): void;
  close(): Promise<void>;
}

/** Starts a local OIDC issuer (Clerk-like: RS256, JWKS at `/.well-known/jwks.json`) on a free port. */
export async function startLocalOidcIssuer(options: { audience?: string } = {}): Promise<LocalOidcIssuer> {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = `test-${Math.random().toString(36).slice(2, 10)}`;
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  let fetches = 0;
  let sign: (claims: JWTPayload) => Promise<string> = async () => "";
  const grants = new LocalCodeGrant((claims) => sign(claims));
  const server: Server = createServer((request, response) => {
    if (grants.handle(request, response)) return;
    if (request.url === "/.well-known/jwks.json") {
      fetches += 1;
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ keys: [publicJwk] }));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const issuer = `http://127.0.0.1:${port}`;
  const local: LocalOidcIssuer = {
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    authorizationUrl: `${issuer}/authorize`,
    tokenUrl: `${issuer}/token`,
    clientId: LOCAL_OIDC_CLIENT_ID,
    signInAs: (claims) => grants.signInAs(claims),
    audience: options.audience,
    kid,
    jwksFetches: () => fetches,
    async sign(claims, tokenOptions = {}) {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid, typ: "JWT", ...tokenOptions.header })
        .setIssuer(tokenOptions.issuer ?? issuer)
        .setIssuedAt(now)
        .setExpirationTime(now + (tokenOptions.expiresInS ?? 300));
      const audience = tokenOptions.audience ?? options.audience;
      if (audience !== undefined) jwt.setAudience(audience);
      return jwt.sign(tokenOptions.key ?? privateKey);
    },
    async foreignKey() {
      return (await generateKeyPair("RS256")).privateKey;
    },
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
  sign = (claims) => local.sign(claims);
  return local;
}
