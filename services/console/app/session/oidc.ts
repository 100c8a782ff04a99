import { BASE } from "../router";

/**
 * The browser sign-in with the OIDC provider: the authorization code grant with PKCE
 * (docs/security.md, Browser sign-in). Before leaving for the provider the console keeps a
 * random verifier and state in sessionStorage (this tab only); the provider sends the browser
 * back to `/console/auth/callback` with a code and the state, and the API trades the code and
 * verifier for a Galaxy token. A state that does not match is refused (a forged return).
 */

const KEY = "galaxy.console.oidc";

export interface OidcProvider {
  authorizationUrl: string;
  clientId: string;
  scopes: string;
}

function base64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function random(size: number): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(size)));
}

/** Where the provider sends the browser back: registered with the provider as the console's redirect URI. */
export function redirectUri(): string {
  return `${window.location.origin}${BASE}/auth/callback`;
}

export async function startOidcSignIn(provider: OidcProvider): Promise<void> {
  const verifier = random(32);
  const state = random(16);
  const challenge = base64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  sessionStorage.setItem(KEY, JSON.stringify({ verifier, state }));
  const url = new URL(provider.authorizationUrl);
  const params = { response_type: "code", client_id: provider.clientId, redirect_uri: redirectUri(), scope: provider.scopes, state, code_challenge: challenge, code_challenge_method: "S256" };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  window.location.assign(url.toString());
}

/** The code and verifier of the sign-in this tab started, from the provider's return; why not, when it cannot go on. */
export function returnedSignIn(search: URLSearchParams): { code: string; codeVerifier: string } | { problem: string } {
  const raw = sessionStorage.getItem(KEY);
  sessionStorage.removeItem(KEY);
  const started = raw ? (JSON.parse(raw) as { verifier?: unknown; state?: unknown }) : null;
  const providerError = search.get("error");
  if (providerError) return { problem: `The identity provider did not sign you in (${providerError}).` };
  const code = search.get("code");
  if (!started || typeof started.verifier !== "string" || !code) return { problem: "This sign-in was not started here, or has already been used." };
  if (search.get("state") !== started.state) return { problem: "This sign-in's return does not match the one started here." };
  return { code, codeVerifier: started.verifier };
}
