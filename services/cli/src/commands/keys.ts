import type { Bus } from "@galaxy/bus";
import type { SigningKeyInfo, SigningKeyList, SigningKeyRotation } from "@galaxy/contracts";

/** `galaxy keys list`: every signing key and its status, newest first. */
export async function listKeys(bus: Bus): Promise<SigningKeyList> {
  return bus.request("identity.operator.keys.list", {});
}

/**
 * `galaxy keys rotate [--now]`: a new key is published in the JWKS at once and signs after the
 * activation delay (`--now`: at once, after a compromise); the active key retires and keeps
 * verifying what it signed.
 */
export async function rotateKeys(bus: Bus, options: { now?: boolean } = {}): Promise<SigningKeyRotation> {
  return bus.request("identity.operator.keys.rotate", { now: options.now ?? false });
}

/** `galaxy keys revoke <kid>`: removes a retired or pending key from the JWKS; what it signed stops verifying. */
export async function revokeKey(bus: Bus, kid: string): Promise<SigningKeyInfo> {
  return bus.request("identity.operator.keys.revoke", { kid });
}

export function describeKeys(list: SigningKeyList): string {
  if (list.keys.length === 0) return "No signing keys.";
  const rows = list.keys.map((key) => [key.kid, key.status, key.createdAt, key.activatesAt ?? key.retiredAt ?? key.revokedAt ?? ""]);
  return table([["KID", "STATUS", "CREATED", "ACTIVATES / RETIRED / REVOKED"], ...rows]);
}

export function describeRotation(rotation: SigningKeyRotation): string {
  const { key, previousKid } = rotation;
  const when = key.status === "active" ? "signs now" : `is published and signs from ${key.activatesAt ?? "its activation"}`;
  return `New signing key ${key.kid} ${when}.${previousKid ? ` ${previousKid} ${key.status === "active" ? "is retired" : "signs until then, then retires"}; it stays in the JWKS to verify what it signed.` : ""}`;
}

export function describeRevocation(key: SigningKeyInfo): string {
  return `Signing key ${key.kid} is revoked: it is gone from the JWKS, and every verifier drops it within moments.`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? [];
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()).join("\n");
}
