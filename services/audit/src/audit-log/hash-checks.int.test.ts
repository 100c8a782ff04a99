import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { sql, type Kysely } from "@galaxy/db";
import type { AuditDb } from "../db";
import { auditTest } from "../../test/support/audit-fixtures";

// docs/audit-chain.md, "Append-only, and the two ways out": an entry's hash and prev_hash, and a checkpoint's hash, are
// 64 lowercase hex digits; the table refuses anything else whoever writes it.
const test = auditTest();

const GOOD = "0123456789abcdef".repeat(4);
const BAD = {
  "63 digits": GOOD.slice(1),
  "65 digits": `${GOOD}0`,
  "an upper-case digit": `A${GOOD.slice(1)}`,
  "a letter past f": `g${GOOD.slice(1)}`,
  "a space": ` ${GOOD.slice(1)}`,
  "a line break at the end": `${GOOD.slice(1)}\n`,
  "a non-ASCII digit": `٣${GOOD.slice(1)}`,
  "nothing": "",
};

const CHECK_VIOLATION = "23514";

describe("the audit tables' hash checks", () => {
  test("an entry with 64 lowercase hex digits in hash and prev_hash goes in", async ({ admin }) => {
    await expect(insertEntry(admin, GOOD, GOOD)).resolves.toBeUndefined();
  });

  for (const [what, value] of Object.entries(BAD)) {
    test(`an entry's hash or prev_hash of ${what} is refused, and a checkpoint's hash`, async ({ admin }) => {
      await expect(insertEntry(admin, value, GOOD)).rejects.toMatchObject({ code: CHECK_VIOLATION });
      await expect(insertEntry(admin, GOOD, value)).rejects.toMatchObject({ code: CHECK_VIOLATION });
      await expect(sql`insert into audit.audit_checkpoints (workspace_id, seq, hash) values (${randomUUID()}, 1, ${value})`.execute(admin)).rejects.toMatchObject({ code: CHECK_VIOLATION });
    });
  }
});

async function insertEntry(admin: Kysely<AuditDb>, hash: string, prevHash: string): Promise<void> {
  await sql`insert into audit.audit_logs (id, workspace_id, seq, stream_seq, actor_type, actor_id, action, resource_type, resource_id, occurred_at, occurred_at_ts, hash, prev_hash)
            values (${randomUUID()}, ${randomUUID()}, 1, 1, 'user', 'u', 'agent.activated', 'agent', 'a', '2026-12-06T00:00:00.000Z', now(), ${hash}, ${prevHash})`.execute(admin);
}
