import { afterEach, expect, test } from "vitest";
import { hashPassword, verifyPassword } from "./passwords";

const saved = { cost: process.env.SCRYPT_COST, vitest: process.env.VITEST };

function restore(name: "SCRYPT_COST" | "VITEST", value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

afterEach(() => {
  restore("SCRYPT_COST", saved.cost);
  restore("VITEST", saved.vitest);
});

test("a hash verifies its password and no other", async () => {
  const hash = await hashPassword("correct horse battery", 10);
  expect(await verifyPassword("correct horse battery", hash)).toBe(true);
  expect(await verifyPassword("correct horse batterz", hash)).toBe(false);
  expect(await verifyPassword("anything", "not-a-hash")).toBe(false);
});

test("outside a test run, SCRYPT_COST cannot go below OWASP's floor (N = 2^17)", async () => {
  process.env.SCRYPT_COST = "10";
  delete process.env.VITEST;
  expect((await hashPassword("correct horse battery")).startsWith("scrypt$17$8$1$")).toBe(true);
  process.env.SCRYPT_COST = "18";
  expect((await hashPassword("correct horse battery")).startsWith("scrypt$18$8$1$")).toBe(true);
});

test("a test run may lower it to stay fast", async () => {
  process.env.SCRYPT_COST = "10";
  process.env.VITEST = "true";
  expect((await hashPassword("correct horse battery")).startsWith("scrypt$10$8$1$")).toBe(true);
});
