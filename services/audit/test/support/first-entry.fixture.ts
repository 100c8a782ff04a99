import { type AuditEntryFields, GENESIS_HASH } from "../../src/chain/chain";

/** The workspace of the documented first entry. */
export const FIRST_WORKSPACE = "0190a1b2-0000-7000-8000-000000000001";

/** The first entry of a chain, as docs/audit-chain.md gives it for its hash example. */
export const FIRST_ENTRY: AuditEntryFields = {
  id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
  workspaceId: FIRST_WORKSPACE,
  seq: 1,
  actor: { type: "user", id: "0190a1b2-0000-7000-8000-0000000000aa" },
  action: "agent.created",
  resourceType: "agent",
  resourceId: "0190a1b2-0000-7000-8000-0000000000bb",
  changes: { before: null, after: { name: "Support bot", temperature: 0.5, ümlaut: "€" } },
  ipAddress: "203.0.113.7",
  userAgent: "curl/8.5.0",
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  occurredAt: "2025-01-02T03:04:05.678Z",
  prevHash: GENESIS_HASH,
};
