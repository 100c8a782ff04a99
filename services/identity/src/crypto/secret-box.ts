import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * AES-256-GCM for secrets at rest. The ciphertext names the key that sealed it
 * (`v1.<keyId>.<iv>.<tag>.<data>`, base64url), so `GALAXY_MASTER_KEY` can rotate.
 */
export class SecretBox {
  private readonly key: Buffer;
  readonly keyId: string;

  constructor(masterKeyBase64: string) {
    const key = Buffer.from(masterKeyBase64, "base64");
    if (key.length !== 32) throw new Error("GALAXY_MASTER_KEY must be 32 bytes, base64-encoded");
    this.key = key;
    this.keyId = createHash("sha256").update(key).digest("base64url").slice(0, 8);
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return ["v1", this.keyId, iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), data.toString("base64url")].join(".");
  }

  open(sealed: string): string {
    const [version, keyId, iv, tag, data] = sealed.split(".");
    if (version !== "v1" || !iv || !tag || data === undefined) throw new Error("not a sealed secret");
    if (keyId !== this.keyId) throw new Error(`secret sealed with key ${keyId ?? "?"}, not the current master key`);
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
  }
}
