import { describe, expect, test } from "vitest";
import { displayName, profileOfClerkUser } from "./clerk-profile";

const email = (id: string, address: string, status = "verified") => ({ id, email_address: address, verification: { status } });

describe("profileOfClerkUser", () => {
  test("given several emails, the primary one is kept, lowercased, with its verification", () => {
    const profile = profileOfClerkUser({
      id: "user_1",
      email_addresses: [email("idn_a", "other@example.com"), email("idn_b", "Main@Example.com", "unverified")],
      primary_email_address_id: "idn_b",
      first_name: " Ada ",
      last_name: "Lovelace",
      updated_at: 42,
    });
    expect(profile).toEqual({ email: "main@example.com", emailVerified: false, name: "Ada Lovelace", updatedAt: 42 });
  });

  test("without a primary id the first email is used; without names, the username, else the email's local part", () => {
    expect(profileOfClerkUser({ id: "u", email_addresses: [email("idn_a", "ada@example.com")], username: "ada_l" })).toMatchObject({ email: "ada@example.com", emailVerified: true, name: "ada_l", updatedAt: null });
    expect(profileOfClerkUser({ id: "u", email_addresses: [email("idn_a", "ada@example.com")], first_name: null, last_name: "" }).name).toBe("ada");
  });

  test("no email, or one that is not an address, gives no email", () => {
    expect(profileOfClerkUser({ id: "u", email_addresses: [] })).toMatchObject({ email: null, emailVerified: false, name: "User" });
    expect(profileOfClerkUser({ id: "u", email_addresses: [email("idn_a", "not an email")] }).email).toBeNull();
  });
});

describe("displayName", () => {
  test("a blank name falls back to the email's local part; long names are cut to 200", () => {
    expect(displayName("  ", "grace@example.com")).toBe("grace");
    expect(displayName(undefined, undefined)).toBe("User");
    expect(displayName("x".repeat(300), null)).toHaveLength(200);
  });
});
