/** Random bytes drawn from the system at a time: enough for 256 ids. */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let used = POOL_BYTES;

/** The last id's millisecond and counter, so ids made in one millisecond still sort in the order they were made. */
let lastMs = -Infinity;
let counter = 0;

/**
 * A new UUIDv7: the time in its first 48 bits, then a 31-bit counter seeded at random each
 * millisecond, then random bits, bit for bit as the `uuid` package's `v7()` makes them,
 * so ids made in one process sort in the order they were made.
 *
 * The random bytes come from a pool filled 4 KiB at a time. `uuid` asks the system for 16
 * bytes per id, which cost the gateway about 3 % of its CPU on the read path, one id per
 * request (docs/benchmarks.md).
 */
export function uuidv7(): string {
  if (used + 16 > POOL_BYTES) {
    globalThis.crypto.getRandomValues(pool);
    used = 0;
  }
  const random = pool.subarray(used, used + 16);
  used += 16;
  const now = Date.now();
  if (now > lastMs) {
    counter = ((random[6] ?? 0) & 0x7f) * 0x1000000 + ((random[7] ?? 0) << 16) + ((random[8] ?? 0) << 8) + (random[9] ?? 0);
    lastMs = now;
  } else {
    counter = (counter + 1) | 0;
    // The counter ran out within one millisecond: borrow the next, as `uuid` does.
    if (counter === 0) lastMs++;
  }
  const ms = lastMs;
  const bytes = [
    (ms / 0x10000000000) & 0xff, (ms / 0x100000000) & 0xff, (ms / 0x1000000) & 0xff, (ms / 0x10000) & 0xff, (ms / 0x100) & 0xff, ms & 0xff,
    0x70 | ((counter >>> 28) & 0x0f), (counter >>> 20) & 0xff,
    0x80 | ((counter >>> 14) & 0x3f), (counter >>> 6) & 0xff,
    ((counter << 2) & 0xff) | ((random[10] ?? 0) & 0x03), random[11] ?? 0, random[12] ?? 0, random[13] ?? 0, random[14] ?? 0, random[15] ?? 0,
  ];
  let id = "";
  for (let i = 0; i < 16; i++) id += (i === 4 || i === 6 || i === 8 || i === 10 ? "-" : "") + HEX[bytes[i] ?? 0];
  return id;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
