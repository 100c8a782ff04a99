import { createHash } from "node:crypto";
import { tokenize } from "./tokens";

/**
 * Vector length when a request does not ask for `dimensions`. 512 keeps unrelated words from
 * sharing buckets often, so a query ranks the chunks that share its words first.
 */
export const DEFAULT_EMBEDDING_DIMENSIONS = 512;

/** The largest `dimensions` a request may ask for. */
export const MAX_EMBEDDING_DIMENSIONS = 4096;

/**
 * Common English words that say little about what a text is about: without them, two texts
 * are close because they share their subject, not because both use "the" and "of".
 */
const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    "a an and are as at be been but by can could did do does for from had has have he her his how i if in into is it its me my no not of on or our " +
    "she so than that the their them then there these they this those to too us was we were what when where which who why will with would you your"
  ).split(" "),
);

/**
 * A deterministic embedding of `text`: a hashed bag of words. Each lowercased word but the
 * common ones (`STOP_WORDS`), in a crude singular, is hashed with sha256 to a bucket and a sign (the sign keeps
 * colliding words from piling up in one direction); a word counts 1 + ln(count), so a word
 * repeated many times does not drown the others; the vector is L2-normalised. Texts sharing
 * words thus have a high cosine similarity, and a query ranks the texts that share its words
 * above those that do not. Values are rounded to float32 so the `float` and `base64`
 * encodings agree exactly. Stop words count when a text has nothing else, punctuation when
 * it has no words at all; an empty text gives the zero vector.
 */
export function embed(text: string, dimensions: number = DEFAULT_EMBEDDING_DIMENSIONS): number[] {
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_EMBEDDING_DIMENSIONS) {
    throw new RangeError(`dimensions must be an integer from 1 to ${MAX_EMBEDDING_DIMENSIONS}, got ${dimensions}`);
  }
  const tokens = tokenize(text.toLowerCase());
  const words = tokens.filter((token) => /[\p{L}\p{N}_]/u.test(token));
  const content = words.filter((word) => !STOP_WORDS.has(word)).map(singular);
  const features = content.length > 0 ? content : words.length > 0 ? words : tokens;

  const counts = new Map<string, number>();
  for (const feature of features) counts.set(feature, (counts.get(feature) ?? 0) + 1);

  const vector = new Array<number>(dimensions).fill(0);
  for (const [feature, count] of counts) {
    const digest = createHash("sha256").update(feature).digest();
    const bucket = digest.readUInt32BE(0) % dimensions;
    const sign = (digest[4] ?? 0) & 1 ? -1 : 1;
    vector[bucket] = (vector[bucket] ?? 0) + sign * (1 + Math.log(count));
  }

  const norm = Math.hypot(...vector);
  return vector.map((value) => (norm === 0 ? 0 : Math.fround(value / norm)));
}

/** A crude English singular ("policies" → "policy", "passwords" → "password"), so plurals match. */
function singular(word: string): string {
  if (word.length > 4 && word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.length > 3 && word.endsWith("s") && !word.endsWith("ss") && !word.endsWith("us")) return word.slice(0, -1);
  return word;
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
