/** How documents are cut for embedding: about 800 characters a chunk, the last ~200 repeated at the next one's start. */
export const DEFAULT_CHUNK_SIZE = 800;
export const DEFAULT_CHUNK_OVERLAP = 200;

export interface ChunkOptions {
  /** Most characters in a chunk (a single longer word is cut into pieces of this size). */
  size?: number;
  /** About how many characters of a chunk's end the next chunk starts with, whole words only. */
  overlap?: number;
}

/**
 * Cuts `text` into overlapping chunks on word boundaries. Whitespace between words becomes a
 * single space; a text of only whitespace has no chunks. Every word of the text is in at
 * least one chunk, in order, and each chunk starts after the previous one did, so the
 * result is the same for the same text every time (re-indexing writes the same chunks).
 */
export function chunkText(text: string, options: ChunkOptions = {}): string[] {
  const size = options.size ?? DEFAULT_CHUNK_SIZE;
  const overlap = options.overlap ?? DEFAULT_CHUNK_OVERLAP;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= size) throw new RangeError(`chunk overlap must be an integer from 0 to ${size - 1}, got ${overlap}`);

  const words = text.split(/\s+/u).filter((word) => word.length > 0).flatMap((word) => piecesOf(word, size));
  const chunks: string[] = [];
  let start = 0;
  while (start < words.length) {
    let end = start;
    let length = 0;
    for (;;) {
      const word = words[end];
      if (word === undefined) break;
      const added = end === start ? word.length : length + 1 + word.length;
      if (end > start && added > size) break;
      length = added;
      end += 1;
    }
    chunks.push(words.slice(start, end).join(" "));
    if (end >= words.length) break;
    // Step back over the words that fit in the overlap, always moving on by at least one word.
    let next = end;
    let tail = 0;
    for (;;) {
      const word = words[next - 1];
      if (word === undefined || next - 1 <= start) break;
      const added = tail === 0 ? word.length : tail + 1 + word.length;
      if (added > overlap) break;
      tail = added;
      next -= 1;
    }
    start = next;
  }
  return chunks;
}

/** A word longer than a chunk, in chunk-sized pieces (a URL, a base64 blob). */
function piecesOf(word: string, size: number): string[] {
  if (word.length <= size) return [word];
  const pieces: string[] = [];
  for (let offset = 0; offset < word.length; offset += size) pieces.push(word.slice(offset, offset + size));
  return pieces;
}
