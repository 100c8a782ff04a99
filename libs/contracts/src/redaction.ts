/**
 * The one list of field names that hold secrets. Loggers redact them, the audit log
 * strips them from `changes`, and no event schema may carry them.
 */
export const SECRET_FIELDS = [
  "password",
  "passwordHash",
  "apiKey",
  "key",
  "keyHash",
  "secret",
  "secretCiphertext",
  "notifySecret",
  "accessToken",
  "idToken",
  "refreshToken",
  "authorization",
  "privateKey",
  "claim",
  "token",
] as const;

const SECRET_SET: ReadonlySet<string> = new Set(SECRET_FIELDS.map((field) => field.toLowerCase()));

export const REDACTED = "[redacted]";

export function isSecretField(name: string): boolean {
  return SECRET_SET.has(name.toLowerCase());
}

/** A deep copy of `value` with every secret field replaced by `[redacted]`. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isSecretField(k) ? REDACTED : redact(v);
    return out;
  }
  return value;
}
