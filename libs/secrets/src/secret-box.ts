import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * AES-256-GCM for secrets at rest. The ciphertext names the key that sealed it
 * (`v1.<keyId>.<iv>.<tag>.<data>`, base64url), so `GALAXY_MASTER_KEY` can rotate: the box
 * seals with the current key and opens what the current key or any previous one sealed
 * (`GALAXY_MASTER_KEY_PREVIOUS`).
 */
export class SecretBox {
  private readonly key: Buffer;
  private readonly keys: ReadonlyMap<string, Buffer>;
  /** The id of the current master key: the first 8 characters of its SHA-256, base64url. */
  readonly keyId: string;

  constructor(masterKeyBase64: string, previousKeysBase64: readonly string[] = []) {
    this.key = decodeKey(masterKeyBase64, "GALAXY_MASTER_KEY");
    this.keyId = keyIdOf(this.key);
    const keys = new Map<string, Buffer>([[this.keyId, this.key]]);
    for (const previous of previousKeysBase64) {
      const key = decodeKey(previous, "each key of GALAXY_MASTER_KEY_PREVIOUS");
      if (!keys.has(keyIdOf(key))) keys.set(keyIdOf(key), key);
    }
    this.keys = keys;
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
    const key = keyId === undefined ? undefined : this.keys.get(keyId);
    if (!key) {
      throw new Error(
        `a secret was sealed with master key ${keyId ?? "?"}, which is neither GALAXY_MASTER_KEY (${this.keyId}) nor one in GALAXY_MASTER_KEY_PREVIOUS: ` +
          "start with the key that sealed this database (under `make up`, .galaxy/master.key of the checkout that created it), or list it in GALAXY_MASTER_KEY_PREVIOUS",
      );
    }
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
  }

  /** The id of the key that sealed `sealed` (null when it is not a sealed secret). */
  static keyIdOf(sealed: string): string | null {
    const [version, keyId] = sealed.split(".");
    return version === "v1" && keyId ? keyId : null;
  }

  /** Whether `sealed` was sealed with an older key and should be sealed again with the current one. */
  isStale(sealed: string): boolean {
    return SecretBox.keyIdOf(sealed) !== this.keyId;
  }
}

function decodeKey(base64: string, name: string): Buffer {
  const key = Buffer.from(base64.trim(), "base64");
  if (key.length !== 32) throw new Error(`${name} must be 32 bytes, base64-encoded`);
  return key;
}

function keyIdOf(key: Buffer): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, 8);
}

/** Reads `GALAXY_MASTER_KEY_PREVIOUS`: comma-separated base64 keys, blanks ignored. */
export function parsePreviousMasterKeys(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}
