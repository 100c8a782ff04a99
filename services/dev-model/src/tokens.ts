/**
 * The dev model's tokenizer: a token is a run of letters, marks, digits and
 * underscores, or a single other non-space character. "Hello, world!" is four
 * tokens. A run longer than 32 characters is cut into tokens of 32, as a
 * provider's tokenizer cuts a long word, so no stream delta is ever large. It is
 * not any provider's tokenizer; it only has to be deterministic, cheap and
 * roughly proportional to text length, so usage figures are stable across runs
 * and machines.
 */
const TOKEN = /[\p{L}\p{M}\p{N}_]{1,32}|[^\s\p{L}\p{M}\p{N}_]/gu;

/** Whitespace travels with the token after it, so the pieces concatenate back to the text. */
const PIECE = /\s*(?:[\p{L}\p{M}\p{N}_]{1,32}|[^\s\p{L}\p{M}\p{N}_])|\s+$/gu;

/** The tokens of `text`, in order. */
export function tokenize(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

/** How many tokens the dev model bills for `text`. */
export function countTokens(text: string): number {
  return tokenize(text).length;
}

/**
 * Cuts `text` into stream deltas, one per token (trailing whitespace, if any,
 * is a last piece of its own). `splitIntoPieces(t).join("") === t` always.
 */
export function splitIntoPieces(text: string): string[] {
  return text.match(PIECE) ?? [];
}

/**
 * The most tokens one answer may ask for, as real models have a ceiling (and refuse a larger
 * `max_tokens` with a 400): a client that sends its whole budget as `max_tokens` fails here too.
 */
export const MAX_OUTPUT_TOKENS = 128_000;

/** The first `maxTokens` tokens of `text` with their whitespace, or `text` itself if it is short enough. */
export function truncateToTokens(text: string, maxTokens: number): { text: string; truncated: boolean } {
  if (countTokens(text) <= maxTokens) return { text, truncated: false };
  return { text: splitIntoPieces(text).slice(0, maxTokens).join(""), truncated: true };
}
