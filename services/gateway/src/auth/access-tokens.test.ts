import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, CLAIM_ISSUER, type Jwks } from "@galaxy/contracts";
import { AccessTokenVerifier } from "./access-tokens";

const WS = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

async function identityKeys() {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const jwks: Jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "EdDSA", use: "sig" } as Jwks["keys"][number]] };
  let jwksLoads = 0;
  const loadJwks = async () => {
    jwksLoads += 1;
    return jwks;
  };
  const sign = (expS: number, jti = "t1") =>
    new SignJWT({ ws: WS, role: "admin" })
      .setProtectedHeader({ alg: "EdDSA", kid: "k1", typ: ACCESS_TOKEN_TYP })
      .setIssuer(CLAIM_ISSUER).setAudience(ACCESS_TOKEN_AUDIENCE).setSubject("user-1").setJti(jti)
      .setIssuedAt(expS - 900).setExpirationTime(expS)
      .sign(privateKey);
  return { loadJwks, sign, loads: () => jwksLoads };
}

describe("AccessTokenVerifier", () => {
  it("answers a token it verified from memory until it expires, then refuses it", async () => {
    const keys = await identityKeys();
    // A maximum age far past the token's life: only the expiry can end the entry.
    const verifier = new AccessTokenVerifier(keys.loadJwks, { maxAgeMs: 10 * 60_000 });
    const expS = Math.floor(Date.now() / 1000) + 1;
    const token = await keys.sign(expS);
    expect((await verifier.verify(token)).sub).toBe("user-1");
    expect(verifier.size).toBe(1);
    expect((await verifier.verify(token)).jti).toBe("t1");
    // At most ~2 s: the token's expiry is whole seconds.
    for (let i = 0; i < 30 && Date.now() <= expS * 1000; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: "token_expired" });
    expect(verifier.size).toBe(0);
  });

  it("never answers a different token from the cache, even one differing by a character", async () => {
    const keys = await identityKeys();
    const verifier = new AccessTokenVerifier(keys.loadJwks);
    const token = await keys.sign(Math.floor(Date.now() / 1000) + 60);
    await verifier.verify(token);
    const last = token.at(-2) === "A" ? "B" : "A";
    const tampered = `${token.slice(0, -2)}${last}${token.at(-1) ?? ""}`;
    await expect(verifier.verify(tampered)).rejects.toMatchObject({ code: "invalid_token" });
  });

  it("forgets verified tokens and the keys on reset (a signing key was revoked)", async () => {
    const keys = await identityKeys();
    const verifier = new AccessTokenVerifier(keys.loadJwks);
    const token = await keys.sign(Math.floor(Date.now() / 1000) + 60);
    await verifier.verify(token);
    expect(keys.loads()).toBe(1);
    verifier.reset();
    expect(verifier.size).toBe(0);
    await verifier.verify(token);
    expect(keys.loads()).toBe(2);
  });

  it("holds at most its bound of verified tokens", async () => {
    const keys = await identityKeys();
    const verifier = new AccessTokenVerifier(keys.loadJwks, { maxEntries: 2 });
    const exp = Math.floor(Date.now() / 1000) + 60;
    for (const jti of ["a", "b", "c"]) await verifier.verify(await keys.sign(exp, jti));
    expect(verifier.size).toBe(2);
  });
});
