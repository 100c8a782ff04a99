import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { randomUUID } from "node:crypto";
import type { Bus } from "@galaxy/bus";
import { CLAIM_AUDIENCE, CLAIM_ISSUER, CLAIM_TYP, PublicJwk, type ClaimActor, type Jwks, type Permissions, type Role } from "@galaxy/contracts";

export interface ClaimInput {
  ws: string;
  sub?: string;
  act?: ClaimActor;
  role?: Role;
  perms?: Permissions;
  /** Seconds from now; negative for an expired claim. */
  ttlS?: number;
}

/**
 * A stand-in for identity's claim signing in tests of the other services: it has its own
 * Ed25519 key, answers `svc.identity.jwks` and `svc.identity.claims.service` on the test's bus,
 * and signs claims exactly as identity does. End-to-end tests use the real identity instead.
 */
export class TestClaims {
  private constructor(private readonly privateKey: CryptoKey, readonly kid: string, readonly jwks: Jwks) {}

  static async create(): Promise<TestClaims> {
    const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const kid = randomUUID();
    const jwk = PublicJwk.parse({ ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" });
    return new TestClaims(privateKey, kid, { keys: [jwk] });
  }

  /** Serves the identity requests other services make, on `bus`; resolves once the server has them. */
  async serve(bus: Bus): Promise<void> {
    bus.serve("identity.jwks", async () => this.jwks);
    bus.serve("identity.claims.service", async (req) => {
      const expiresAt = Math.floor(Date.now() / 1000) + 900;
      return { claim: await this.sign({ ws: req.workspaceId, sub: req.service, act: "service", role: "admin", ttlS: 900 }), expiresAt };
    });
    await bus.flush();
  }

  async sign(input: ClaimInput, typ = CLAIM_TYP): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ws: input.ws, act: input.act ?? "user", role: input.role ?? "owner", ...(input.perms ? { perms: input.perms } : {}) })
      .setProtectedHeader({ alg: "EdDSA", kid: this.kid, typ })
      .setIssuer(CLAIM_ISSUER)
      .setAudience(CLAIM_AUDIENCE)
      .setSubject(input.sub ?? randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + (input.ttlS ?? 900))
      .setJti(randomUUID())
      .sign(this.privateKey);
  }
}
