import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JWTPayload } from "jose";

/** The client id the local issuer's authorization endpoint knows. */
export const LOCAL_OIDC_CLIENT_ID = "galaxy-console";

interface PendingCode {
  challenge: string;
  redirectUri: string;
  claims: JWTPayload;
  expiresAt: number;
}

function base64Url(bytes: Buffer): string {
  return bytes.toString("base64url");
}

async function formOf(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/**
 * The authorization code grant with PKCE (RFC 7636) of the local issuer, for a browser sign-in:
 * `/authorize` signs in the user `signInAs` set at once (no page) and redirects back with a
 * code; `/token` trades the code, once, for an ID token when the verifier matches the S256
 * challenge and the redirect URI and client are the same.
 */
export class LocalCodeGrant {
  private readonly codes = new Map<string, PendingCode>();
  private user: JWTPayload | undefined;

  constructor(private readonly signIdToken: (claims: JWTPayload) => Promise<string>) {}

  signInAs(claims: JWTPayload): void {
    this.user = claims;
  }

  /** Answers `/authorize` and `/token`; false for any other path. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const url = new URL(request.url ?? "/", "http://local");
    if (url.pathname === "/authorize" && request.method === "GET") {
      this.authorize(url, response);
      return true;
    }
    if (url.pathname === "/token" && request.method === "POST") {
      void this.token(request, response);
      return true;
    }
    return false;
  }

  private authorize(url: URL, response: ServerResponse): void {
    const q = url.searchParams;
    const redirectUri = q.get("redirect_uri") ?? "";
    const challenge = q.get("code_challenge") ?? "";
    if (q.get("response_type") !== "code" || q.get("client_id") !== LOCAL_OIDC_CLIENT_ID || !redirectUri || q.get("code_challenge_method") !== "S256" || !challenge || !this.user) {
      response.writeHead(400).end("bad authorization request");
      return;
    }
    const code = base64Url(randomBytes(24));
    this.codes.set(code, { challenge, redirectUri, claims: this.user, expiresAt: Date.now() + 60_000 });
    const back = new URL(redirectUri);
    back.searchParams.set("code", code);
    back.searchParams.set("state", q.get("state") ?? "");
    response.writeHead(302, { location: back.toString() }).end();
  }

  private async token(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const form = await formOf(request);
    const code = form.get("code") ?? "";
    const pending = this.codes.get(code);
    this.codes.delete(code);
    const verifier = form.get("code_verifier") ?? "";
    const challenge = base64Url(createHash("sha256").update(verifier).digest());
    if (
      form.get("grant_type") !== "authorization_code" || form.get("client_id") !== LOCAL_OIDC_CLIENT_ID || !pending || pending.expiresAt < Date.now() ||
      pending.redirectUri !== form.get("redirect_uri") || pending.challenge !== challenge
    ) {
      json(response, 400, { error: "invalid_grant" });
      return;
    }
    json(response, 200, { token_type: "Bearer", id_token: await this.signIdToken(pending.claims), access_token: base64Url(randomBytes(16)), expires_in: 300 });
  }
}
