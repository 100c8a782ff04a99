import { randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import { parsePreviousMasterKeys, SecretBox } from "./secret-box";

const newKey = () => randomBytes(32).toString("base64");

describe("SecretBox", () => {
  test("seals into v1.<keyId>.<iv>.<tag>.<data> and opens it again", () => {
    const box = new SecretBox(newKey());
    const sealed = box.seal("sk-live-abcdefgh1234");
    expect(sealed.split(".")).toHaveLength(5);
    expect(SecretBox.keyIdOf(sealed)).toBe(box.keyId);
    expect(sealed).not.toContain("sk-live");
    expect(box.open(sealed)).toBe("sk-live-abcdefgh1234");
  });

  test("a box with another master key cannot open it", () => {
    const sealed = new SecretBox(newKey()).seal("secret");
    expect(() => new SecretBox(newKey()).open(sealed)).toThrow(/neither GALAXY_MASTER_KEY .* nor one in GALAXY_MASTER_KEY_PREVIOUS/);
  });

  test("after a rotation, the old key opens what it sealed, and the box seals with the new key", () => {
    const oldKey = newKey();
    const sealedBefore = new SecretBox(oldKey).seal("secret");
    const rotated = new SecretBox(newKey(), [oldKey]);
    expect(rotated.open(sealedBefore)).toBe("secret");
    expect(rotated.isStale(sealedBefore)).toBe(true);
    const sealedAfter = rotated.seal("secret");
    expect(rotated.isStale(sealedAfter)).toBe(false);
    expect(() => new SecretBox(oldKey).open(sealedAfter)).toThrow();
  });

  test("a changed ciphertext does not open", () => {
    const box = new SecretBox(newKey());
    const [v, id, iv, tag, data] = box.seal("secret").split(".");
    const flipped = Buffer.from(data ?? "", "base64url");
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => box.open([v, id, iv, tag, flipped.toString("base64url")].join("."))).toThrow();
  });

  test("refuses keys that are not 32 bytes, naming the variable", () => {
    expect(() => new SecretBox(randomBytes(16).toString("base64"))).toThrow(/GALAXY_MASTER_KEY/);
    expect(() => new SecretBox(newKey(), ["short"])).toThrow(/GALAXY_MASTER_KEY_PREVIOUS/);
  });

  test("GALAXY_MASTER_KEY_PREVIOUS is a comma-separated list, blanks ignored", () => {
    expect(parsePreviousMasterKeys(undefined)).toEqual([]);
    expect(parsePreviousMasterKeys(" a , ,b,")).toEqual(["a", "b"]);
  });
});
