import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from "node:crypto";

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

// OWASP's scrypt floor is N=2^17, r=8, p=1; tests may lower N through SCRYPT_COST to stay fast.
const DEFAULT_COST = 17;

/** `scrypt$<logN>$<r>$<p>$<salt>$<hash>` (base64url). */
export async function hashPassword(password: string, logN = defaultCost()): Promise<string> {
  const salt = randomBytes(16);
  const r = 8;
  const p = 1;
  const hash = await scrypt(password, salt, 32, { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r + 1024 * 1024 });
  return ["scrypt", logN, r, p, salt.toString("base64url"), hash.toString("base64url")].join("$");
}

/** Constant-time check of a password against a stored hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, logN, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !logN || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64url");
  const N = 2 ** Number(logN);
  const actual = await scrypt(password, Buffer.from(salt, "base64url"), expected.length, { N, r: Number(r), p: Number(p), maxmem: 256 * N * Number(r) + 1024 * 1024 });
  return timingSafeEqual(actual, expected);
}

/** A hash to compare against when the email is unknown, so both failures take the same time. */
export const DUMMY_HASH_PROMISE: { value: Promise<string> | undefined } = { value: undefined };

export function dummyHash(): Promise<string> {
  DUMMY_HASH_PROMISE.value ??= hashPassword(randomBytes(16).toString("hex"));
  return DUMMY_HASH_PROMISE.value;
}

/**
 * The cost for new hashes: OWASP's floor, or more. Only a test run (vitest sets `VITEST`) may
 * go below it, so a stray `SCRYPT_COST` can never weaken production passwords.
 */
function defaultCost(): number {
  const fromEnv = Number(process.env.SCRYPT_COST);
  if (!Number.isInteger(fromEnv) || fromEnv > 20) return DEFAULT_COST;
  const floor = process.env.VITEST ? 10 : DEFAULT_COST;
  return Math.max(floor, fromEnv);
}
