import { describe, expect, test } from "vitest";
import { buildEntryDraft } from "../audit-log/entry";
import { GENESIS_HASH, GENESIS_HEAD, appendToChain, verifyChain, type HashedAuditEntry } from "./chain";
import { GOLDEN_HASHES, GOLDEN_WORKSPACE, goldenSources } from "../../test/support/golden.fixture";

function goldenChain(): HashedAuditEntry[] {
  const entries: HashedAuditEntry[] = [];
  let head = GENESIS_HEAD;
  for (const source of goldenSources()) {
    const entry = appendToChain(head, buildEntryDraft(source));
    entries.push(entry);
    head = entry;
  }
  return entries;
}

describe("the golden chain", () => {
  test("a known sequence of events yields the known list of hashes", () => {
    const chain = goldenChain();
    expect(chain.map((entry) => entry.hash)).toEqual(GOLDEN_HASHES);
    expect(chain.map((entry) => entry.prevHash)).toEqual([GENESIS_HASH, ...GOLDEN_HASHES.slice(0, -1)]);
    expect(chain.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(verifyChain(chain, GENESIS_HEAD)).toEqual({ valid: true, entries: 7, head: { seq: 7, hash: GOLDEN_HASHES[6] } });
  });

  test("every hashed field comes from the event and its headers", () => {
    const [created, , roleChanged, , credential, incident, removed] = goldenChain();
    expect(created).toMatchObject({
      workspaceId: GOLDEN_WORKSPACE,
      actor: { type: "user", id: "0190a1b2-0000-7000-8000-0000000000aa" },
      action: "workspace.created",
      resourceType: "workspace",
      resourceId: GOLDEN_WORKSPACE,
      changes: { before: null, after: { id: GOLDEN_WORKSPACE, name: "Acme", slug: "acme" } },
      ipAddress: "203.0.113.7",
      userAgent: "curl/8.5.0",
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      occurredAt: "2025-03-01T09:00:00.000Z",
    });
    // The time is hashed exactly as the event wrote it, offset and all.
    expect(roleChanged?.occurredAt).toBe("2025-03-01T09:06:30.250+01:00");
    expect(roleChanged?.changes).toEqual({ before: { role: "member", permissions: {} }, after: { role: "admin", permissions: { agents: { delete: true } } } });
    // W3C's all-zero trace id names no trace.
    expect(credential).toMatchObject({ actor: { type: "api_key" }, traceId: null, userAgent: "galaxy-sdk/1.0" });
    expect(incident).toMatchObject({ action: "security.cross_workspace_attempt", changes: null, resourceType: "agent" });
    // An operator is recorded as a service actor.
    expect(removed).toMatchObject({ actor: { type: "service", id: "galaxy-cli" }, changes: { before: { userId: "0190a1b2-0000-7000-8000-0000000000ab", role: "admin" }, after: null } });
  });
});
