import { z } from "zod";
import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from "jose";
import { sql, type Kysely, type Selectable, type Transaction } from "@galaxy/db";
import {
  ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, CLAIM_AUDIENCE, CLAIM_ISSUER, CLAIM_TYP, PublicJwk, type Jwks, type Permissions, type Role,
  type ClaimActor, type SigningKeyInfo, uuidv7,
} from "@galaxy/contracts";
import type { SecretBox } from "@galaxy/secrets";
import type { IdentityDb, SigningKeysTable } from "../db";

const ALG = "EdDSA";

/** A stored Ed25519 private key, as exported by jose. */
const PrivateJwk = z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string(), d: z.string(), kid: z.string(), alg: z.literal(ALG) });
// Serializes key creation, promotion and revocation between identity instances.
const KEY_LOCK = 7_114_216;

/** How long tokens and claims live (docs/api.md: access tokens at most 15 minutes). */
export const ACCESS_TOKEN_TTL_S = 15 * 60;
export const SERVICE_CLAIM_TTL_S = 15 * 60;

interface ActiveKey {
  kid: string;
  privateKey: CryptoKey;
}

/** The key statuses the JWKS publishes: what a pending key will sign and what a retired one signed must verify. */
const PUBLISHED = ["pending", "active", "retired"] as const;

export interface SigningKeysOptions {
  /**
   * How long a rotated-in key is published before it signs (`KEY_ACTIVATION_DELAY_MS`, default
   * 60 s): at least as long as a verifier caches the JWKS (`/.well-known/jwks.json` says
   * `max-age=60`), so no verifier meets a token signed by a key it has not fetched.
   */
  activationDelayMs?: number;
}

type Db = Kysely<IdentityDb> | Transaction<IdentityDb>;
type SigningKeyRow = Selectable<SigningKeysTable>;

/**
 * Identity's signing keys: the active one signs access tokens and workspace claims; a pending
 * one is published before it signs; retired ones stay published so what they signed still
 * verifies; revoked ones are gone from the JWKS (docs/bus.md).
 */
export class SigningKeys {
  private active: ActiveKey | undefined;
  private jwks: Jwks = { keys: [] };
  private keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  private timer: NodeJS.Timeout | undefined;
  readonly activationDelayMs: number;

  constructor(private readonly db: Kysely<IdentityDb>, private readonly box: SecretBox, options: SigningKeysOptions = {}) {
    this.activationDelayMs = options.activationDelayMs ?? 60_000;
  }

  /** Loads the keys, creating the first one when there is none. */
  async load(): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await lockKeys(tx);
      const existing = await tx.selectFrom("signing_keys").select("kid").where("status", "=", "active").executeTakeFirst();
      if (!existing) await insertNewKey(tx, this.box, { status: "active", activatesAt: null });
      // After a master-key rotation, the active and pending keys are sealed again under the current
      // master key (retired keys only verify, with their public half, and are never opened again).
      const live = await tx.selectFrom("signing_keys").select(["kid", "private_jwk_ciphertext"]).where("status", "in", ["active", "pending"]).execute();
      for (const row of live) {
        if (!this.box.isStale(row.private_jwk_ciphertext)) continue;
        await tx.updateTable("signing_keys").set({ private_jwk_ciphertext: this.box.seal(this.box.open(row.private_jwk_ciphertext)) }).where("kid", "=", row.kid).execute();
      }
    });
    await this.promoteDue();
    await this.refresh();
  }

  /** Re-reads the keys (after a rotation or revocation, by this instance or another). */
  async refresh(): Promise<void> {
    const rows = await this.db.selectFrom("signing_keys").selectAll().where("status", "in", PUBLISHED).orderBy("created_at", "desc").execute();
    const activeRow = rows.find((row) => row.status === "active");
    if (!activeRow) throw new Error("no active signing key");
    if (this.active?.kid !== activeRow.kid) {
      const jwk: JWK = PrivateJwk.parse(JSON.parse(this.box.open(activeRow.private_jwk_ciphertext)));
      const privateKey = await importJWK(jwk, ALG);
      if (privateKey instanceof Uint8Array) throw new Error("signing key did not import as an asymmetric key");
      this.active = { kid: activeRow.kid, privateKey };
    }
    this.jwks = { keys: rows.map((row) => PublicJwk.parse(row.public_jwk)) };
    // Built once per refresh, not per verification: jose imports each key on first use and
    // keeps it in the set.
    this.keySet = createLocalJWKSet({ keys: this.jwks.keys.map((key) => ({ ...key })) });
  }

  publicJwks(): Jwks {
    return this.jwks;
  }

  /** The published keys as a jose key set, for verifying identity's own tokens. */
  verificationKeys(): ReturnType<typeof createLocalJWKSet> {
    if (!this.keySet) throw new Error("signing keys are not loaded");
    return this.keySet;
  }

  /** The JWKS as the database has it now: what `identity.jwks` answers, so no instance serves a revoked key. */
  async freshJwks(): Promise<Jwks> {
    await this.refresh();
    return this.jwks;
  }

  /** The kid that signs now. */
  activeKid(): string {
    return this.requireActive().kid;
  }

  /**
   * Every few seconds: promotes a pending key whose time has come and re-reads the keys, so
   * every instance signs with the key another instance rotated in.
   */
  watch(intervalMs: number, onError: (error: unknown) => void): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.promoteDue()
        .then(() => this.refresh())
        .catch(onError);
    }, intervalMs);
    this.timer.unref();
  }

  stopWatching(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Makes the newest pending key whose `activates_at` has passed the active one and retires the
   * one before. Idempotent, and serialized between instances by an advisory lock.
   */
  async promoteDue(): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      await lockKeys(tx);
      return promoteDueIn(tx);
    });
  }

  /** Every key, newest first, without private halves. */
  async list(db: Db = this.db): Promise<SigningKeyInfo[]> {
    const rows = await db.selectFrom("signing_keys").selectAll().orderBy("created_at", "desc").execute();
    return rows.map(keyInfo);
  }

  /** Inserts a pending key (inside the caller's transaction, holding {@link lockKeys}); `now` makes it due at once. */
  async addPending(tx: Transaction<IdentityDb>, now: boolean): Promise<{ key: SigningKeyInfo; previousKid: string | null }> {
    const previous = await tx.selectFrom("signing_keys").select("kid").where("status", "=", "active").executeTakeFirst();
    const activatesAt = new Date(Date.now() + (now ? 0 : this.activationDelayMs));
    const kid = await insertNewKey(tx, this.box, { status: "pending", activatesAt });
    if (now) await promoteDueIn(tx);
    const row = await tx.selectFrom("signing_keys").selectAll().where("kid", "=", kid).executeTakeFirstOrThrow();
    return { key: keyInfo(row), previousKid: previous?.kid ?? null };
  }

  /** The key's row, or undefined. */
  async find(tx: Db, kid: string): Promise<SigningKeyInfo | undefined> {
    const row = await tx.selectFrom("signing_keys").selectAll().where("kid", "=", kid).executeTakeFirst();
    return row && keyInfo(row);
  }

  /** Marks a key revoked (inside the caller's transaction); the caller refreshes after commit. */
  async markRevoked(tx: Transaction<IdentityDb>, kid: string): Promise<SigningKeyInfo> {
    const row = await tx.updateTable("signing_keys").set({ status: "revoked", revoked_at: new Date() }).where("kid", "=", kid).returningAll().executeTakeFirstOrThrow();
    return keyInfo(row);
  }

  /** Whether the user holds the `system_admin` flag (read at every token issue). */
  private async isSystemAdmin(userId: string): Promise<boolean> {
    const row = await this.db.selectFrom("users").select("system_admin").where("id", "=", userId).where("deleted_at", "is", null).executeTakeFirst();
    return row?.system_admin === true;
  }

  /** A Galaxy access token for a user in a workspace. */
  async signAccessToken(input: { userId: string; workspaceId: string; role: Role }): Promise<{ token: string; expiresAt: Date; jti: string }> {
    const key = this.requireActive();
    const now = Math.floor(Date.now() / 1000);
    const jti = uuidv7();
    const exp = now + ACCESS_TOKEN_TTL_S;
    // `sa` only routes a system admin to /api/admin/*; identity checks the flag again for the operator claim.
    const sa = await this.isSystemAdmin(input.userId);
    const token = await new SignJWT({ ws: input.workspaceId, role: input.role, ...(sa ? { sa: true } : {}) })
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

  /** A workspace claim (docs/bus.md) for the bus; `own` names an API key's creator. */
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

/**
 * Serializes key changes (first key, rotation, promotion, revocation) between identity
 * instances until the transaction ends.
 */
export async function lockKeys(tx: Transaction<IdentityDb>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${KEY_LOCK})`.execute(tx);
}

async function promoteDueIn(tx: Transaction<IdentityDb>): Promise<boolean> {
  const due = await tx
    .selectFrom("signing_keys")
    .select("kid")
    .where("status", "=", "pending")
    .where("activates_at", "<=", new Date())
    .orderBy("activates_at", "desc")
    .orderBy("created_at", "desc")
    .executeTakeFirst();
  if (!due) return false;
  const now = new Date();
  // Pending keys older than the one promoted never signed: they retire with the active one.
  await tx.updateTable("signing_keys").set({ status: "retired", retired_at: now }).where("status", "in", ["active", "pending"]).where("kid", "<>", due.kid).where((eb) => eb.or([eb("status", "=", "active"), eb("activates_at", "<=", now)])).execute();
  await tx.updateTable("signing_keys").set({ status: "active" }).where("kid", "=", due.kid).execute();
  return true;
}

function keyInfo(row: SigningKeyRow): SigningKeyInfo {
  return {
    kid: row.kid,
    alg: row.alg,
    status: row.status,
    createdAt: row.created_at.toISOString(),
    activatesAt: row.status === "pending" && row.activates_at ? row.activates_at.toISOString() : null,
    retiredAt: row.retired_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

async function insertNewKey(db: Db, box: SecretBox, options: { status: "active" | "pending"; activatesAt: Date | null }): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { crv: "Ed25519", extractable: true });
  const kid = uuidv7();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: "sig" };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG };
  await db
    .insertInto("signing_keys")
    .values({
      kid, alg: ALG, public_jwk: JSON.stringify(publicJwk), private_jwk_ciphertext: box.seal(JSON.stringify(privateJwk)),
      status: options.status, retired_at: null, activates_at: options.activatesAt, revoked_at: null,
    })
    .execute();
  return kid;
}
