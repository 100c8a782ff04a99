import { v7 } from "uuid";

/** Random bytes drawn from the system at a time: enough for 256 ids. */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let used = POOL_BYTES;

/** The last id's millisecond and counter, so ids made in one millisecond still sort in the order they were made. */
let lastMs = -Infinity;
let counter = 0;

/**
 * A new UUIDv7, made by the `uuid` package's `v7()` with its random bytes given: the time in
 * its first 48 bits, then a counter seeded at random each millisecond (kept here, as `v7()`
 * keeps it when it draws the bytes itself), then random bits, so ids made in one process sort
 * in the order they were made.
 *
 * The random bytes come from a pool filled 4 KiB at a time. Left to itself, `v7()` asks the
 * system for 16 bytes per id, which cost the gateway about 3 % of its CPU on the read path, one
 * id per request (docs/benchmarks.md).
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
  return v7({ random, msecs: lastMs, seq: counter });
}
