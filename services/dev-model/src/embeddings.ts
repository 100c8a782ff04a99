import { createHash } from "node:crypto";
import { tokenize } from "./tokens";

/** Vector length when a request does not ask for `dimensions`. */
export const DEFAULT_EMBEDDING_DIMENSIONS = 64;

/** The largest `dimensions` a request may ask for. */
export const MAX_EMBEDDING_DIMENSIONS = 4096;

/**
 * A deterministic embedding of `text`: a hashed bag of words. Each lowercased
 * word is hashed with sha256 to a bucket and a sign (the sign keeps colliding
 * words from piling up in one direction), counts are summed and the vector is
 * L2-normalised, so texts sharing words have a high cosine similarity. Values
 * are rounded to float32 so the `float` and `base64` encodings agree exactly.
 * Punctuation counts only when a text has no words; an empty text gives the
 * zero vector.
 */
export function embed(text: string, dimensions: number = DEFAULT_EMBEDDING_DIMENSIONS): number[] {
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_EMBEDDING_DIMENSIONS) {
    throw new RangeError(`dimensions must be an integer from 1 to ${MAX_EMBEDDING_DIMENSIONS}, got ${dimensions}`);
  }
  const tokens = tokenize(text.toLowerCase());
  const words = tokens.filter((token) => /[\p{L}\p{N}_]/u.test(token));
  const features = words.length > 0 ? words : tokens;

  const vector = new Array<number>(dimensions).fill(0);
  for (const feature of features) {
    const digest = createHash("sha256").update(feature).digest();
    const bucket = digest.readUInt32BE(0) % dimensions;
    const sign = (digest[4] ?? 0) & 1 ? -1 : 1;
    vector[bucket] = (vector[bucket] ?? 0) + sign;
  }

  const norm = Math.hypot(...vector);
  return vector.map((value) => (norm === 0 ? 0 : Math.fround(value / norm)));
}

/** Little-endian float32 bytes, base64-encoded: what OpenAI returns for `encoding_format: "base64"`. */
export function encodeFloat32Base64(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes.toString("base64");
}

/** Cosine similarity of two vectors of equal length; 0 when either is the zero vector. */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`vectors differ in length: ${a.length} and ${b.length}`);
  let dot = 0;
  let normA = 0;
  let normB = 0;
  a.forEach((value, index) => {
    const other = b[index] ?? 0;
    dot += value * other;
    normA += value * value;
    normB += other * other;
  });
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}
