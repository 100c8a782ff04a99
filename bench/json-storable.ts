import { performance } from "node:perf_hooks";
import { findUnstorable } from "@galaxy/contracts";

// `node --import tsx bench/json-storable.ts`: what the intake check of every JSON body
// (docs/errors.md, `invalid_value`) costs on a typical 1 KB webhook body, beside the
// JSON.parse of the same body that the gateway does anyway. Fixed counts, no assertion.

const ROUNDS = 200_000;
const WARM_UP = 20_000;

const typical = JSON.stringify({
  id: "evt_1NcZ2pLkdIwHu7ix4Y8VBDcE",
  type: "order.paid",
  created: 1_733_270_400,
  livemode: false,
  data: {
    order: { id: "ord_123456", amount: 12_950, currency: "eur", status: "paid", note: "Leave at the door, ring twice — thanks! 😀" },
    customer: { id: "cus_98765", email: "ada@example.com", name: "Ada Lovelace", address: { line1: "12 Analytical St", city: "London", postal_code: "N1 7AA", country: "GB" } },
    items: Array.from({ length: 5 }, (_, i) => ({ sku: `SKU-${1000 + i}`, name: `Item number ${i}`, quantity: i + 1, unit_amount: 1_990 + i * 100, tags: ["gift", "fragile"] })),
  },
  metadata: { source: "checkout", campaign: "winter-sale", retry: 0 },
});

function measure(label: string, work: () => unknown): number {
  for (let i = 0; i < WARM_UP; i += 1) work();
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i += 1) work();
  const microseconds = ((performance.now() - started) * 1000) / ROUNDS;
  console.log(`${label}: ${microseconds.toFixed(2)} µs per body`);
  return microseconds;
}

const parsed: unknown = JSON.parse(typical);
console.log(`typical body: ${Buffer.byteLength(typical)} bytes`);
const parse = measure("JSON.parse", () => JSON.parse(typical));
const check = measure("findUnstorable", () => findUnstorable(parsed));
console.log(`the check costs ${((check / parse) * 100).toFixed(0)} % of parsing the body`);
