import { z } from "zod";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from "jose";
import { sql, type Kysely } from "@galaxy/db";
import { v7 as uuidv7 } from "uuid";
import {
  ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, CLAIM_AUDIENCE, CLAIM_ISSUER, CLAIM_TYP, PublicJwk, type Jwks, type Permissions, type Role,
  type ClaimActor,
} from "@galaxy/contracts";
import type { SecretBox } from "../crypto/secret-box";
import type { IdentityDb } from "../db";

const ALG = "EdDSA";

/** A stored Ed25519 private key, as exported by jose. */
const PrivateJwk = z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string(), d: z.string(), kid: z.string(), alg: z.literal(ALG) });
// Serializes first-key creation between identity instances starting together.
const KEY_LOCK = 7_114_216;

/** How long tokens and claims live (CONTRACT §1: access tokens at most 15 minutes). */
export const ACCESS_TOKEN_TTL_S = 15 * 60;
export const SERVICE_CLAIM_TTL_S = 15 * 60;

interface ActiveKey {
  kid: string;
  privateKey: CryptoKey;
}

/**
 * Identity's signing keys: the active one signs access tokens and workspace claims; retired
 * ones stay published in the JWKS so what they signed still verifies.
 */
export class SigningKeys {
  private active: ActiveKey | undefined;
  private jwks: Jwks = { keys: [] };

  constructor(private readonly db: Kysely<IdentityDb>, private readonly box: SecretBox) {}

  /** Loads the keys, creating the first one when there is none. */
  async load(): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(${KEY_LOCK})`.execute(tx);
      const existing = await tx.selectFrom("signing_keys").select("kid").where("status", "=", "active").executeTakeFirst();
      if (!existing) await insertNewKey(tx, this.box);
      // After a master-key rotation, the active key is sealed again under the current master key
      // (retired keys only verify, with their public half, and are never opened again).
      const active = await tx.selectFrom("signing_keys").select(["kid", "private_jwk_ciphertext"]).where("status", "=", "active").execute();
      for (const row of active) {
        if (!this.box.isStale(row.private_jwk_ciphertext)) continue;
        await tx.updateTable("signing_keys").set({ private_jwk_ciphertext: this.box.seal(this.box.open(row.private_jwk_ciphertext)) }).where("kid", "=", row.kid).execute();
      }
    });
    await this.refresh();
  }

  /** Re-reads the keys (after a rotation by another instance). */
  async refresh(): Promise<void> {
    const rows = await this.db.selectFrom("signing_keys").selectAll().where("status", "in", ["active", "retired"]).orderBy("created_at", "desc").execute();
    const activeRow = rows.find((row) => row.status === "active");
    if (!activeRow) throw new Error("no active signing key");
    const jwk: JWK = PrivateJwk.parse(JSON.parse(this.box.open(activeRow.private_jwk_ciphertext)));
    const privateKey = await importJWK(jwk, ALG);
    if (privateKey instanceof Uint8Array) throw new Error("signing key did not import as an asymmetric key");
    this.active = { kid: activeRow.kid, privateKey };
    this.jwks = { keys: rows.map((row) => PublicJwk.parse(row.public_jwk)) };
  }

  publicJwks(): Jwks {
    return this.jwks;
  }

  /** A Galaxy access token for a user in a workspace. */
  async signAccessToken(input: { userId: string; workspaceId: string; role: Role }): Promise<{ token: string; expiresAt: Date; jti: string }> {
    const key = this.requireActive();
    const now = Math.floor(Date.now() / 1000);
    const jti = uuidv7();
    const exp = now + ACCESS_TOKEN_TTL_S;
    const token = await new SignJWT({ ws: input.workspaceId, role: input.role })
      .setProtectedHeader({ alg: ALG, kid: key.kid, typ: ACCESS_TOKEN_TYP })
      .setIssuer(CLAIM_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setSubject(input.userId)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(key.privateKey);
    return { token, expiresAt: new Date(exp * 1000), jti };
  }

  /** A workspace claim (CONTRACT §3) for the bus; `own` names an API key's creator. */
  async signClaim(input: { workspaceId: string; sub: string; act: ClaimActor; role: Role; perms?: Permissions; own?: string; expiresAt: number }): Promise<{ claim: string; expiresAt: number }> {
    const key = this.requireActive();
    const now = Math.floor(Date.now() / 1000);
    const claim = await new SignJWT({ ws: input.workspaceId, act: input.act, role: input.role, ...(input.perms ? { perms: input.perms } : {}), ...(input.own ? { own: input.own } : {}) })
      .setProtectedHeader({ alg: ALG, kid: key.kid, typ: CLAIM_TYP })
      .setIssuer(CLAIM_ISSUER)
      .setAudience(CLAIM_AUDIENCE)
      .setSubject(input.sub)
      .setIssuedAt(now)
      .setExpirationTime(input.expiresAt)
      .setJti(uuidv7())
      .sign(key.privateKey);
    return { claim, expiresAt: input.expiresAt };
  }

  private requireActive(): ActiveKey {
    if (!this.active) throw new Error("signing keys are not loaded");
    return this.active;
  }
}

async function insertNewKey(db: Kysely<IdentityDb>, box: SecretBox): Promise<void> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { crv: "Ed25519", extractable: true });
  const kid = uuidv7();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: "sig" };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG };
  await db
    .insertInto("signing_keys")
    .values({ kid, alg: ALG, public_jwk: JSON.stringify(publicJwk), private_jwk_ciphertext: box.seal(JSON.stringify(privateJwk)), status: "active", retired_at: null })
    .execute();
}
