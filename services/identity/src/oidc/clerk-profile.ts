import { Email, type ClerkUser } from "@galaxy/contracts";

/** What Galaxy keeps of a provider's user: the primary email and a display name. */
export interface ExternalProfile {
  email: string | null;
  emailVerified: boolean;
  name: string;
  /** The provider's `updated_at` (ms), when it sent one. */
  updatedAt: number | null;
}

const NAME_MAX = 200;

/** The primary email (else the first), whether Clerk verified it, and a name from first/last name, username, or the email. */
export function profileOfClerkUser(user: ClerkUser): ExternalProfile {
  const primary = user.email_addresses.find((e) => e.id === user.primary_email_address_id) ?? user.email_addresses[0];
  const parsed = primary ? Email.safeParse(primary.email_address.trim()) : undefined;
  const email = parsed?.success ? parsed.data : null;
  const fullName = [user.first_name, user.last_name].filter((part): part is string => typeof part === "string" && part.trim() !== "").map((p) => p.trim()).join(" ");
  return {
    email,
    emailVerified: primary?.verification?.status === "verified",
    name: displayName(fullName || user.username || null, email),
    updatedAt: user.updated_at ?? null,
  };
}

/** A non-empty display name: the given one, else the email's local part, else "User". */
export function displayName(name: string | null | undefined, email: string | null | undefined): string {
  const trimmed = name?.trim();
  if (trimmed) return trimmed.slice(0, NAME_MAX);
  const local = email?.split("@")[0]?.trim();
  return local ? local.slice(0, NAME_MAX) : "User";
}
