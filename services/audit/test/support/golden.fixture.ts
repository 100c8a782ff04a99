import { parseEvent, type TypedEvent } from "@galaxy/contracts";
import type { AuditSource } from "../../src/audit-log/entry";

/**
 * A fixed sequence of events of one workspace, with everything fixed: ids, times, actors,
 * payloads and the headers they travelled with. The golden tests pin the chain they make
 * (chain/golden.test.ts, as built in memory; audit-log/apply-events.int.test.ts, as stored),
 * so a change to the entry format, canonical JSON, the catalog's audit views or storage
 * cannot go unnoticed: it would give every rebuilt chain different hashes.
 */
export const GOLDEN_WORKSPACE = "0190a1b2-0000-7000-8000-00000000f001";

const OWNER = "0190a1b2-0000-7000-8000-0000000000aa";
const GRACE = "0190a1b2-0000-7000-8000-0000000000ab";
const KEY = "0190a1b2-0000-7000-8000-0000000000ac";

const events: Array<{ envelope: unknown; headers: AuditSource["headers"] }> = [
  {
    envelope: {
      id: "0190a1b2-0000-7000-8000-00000000e001",
      type: "workspace.created",
      occurredAt: "2025-03-01T09:00:00.000Z",
      workspaceId: GOLDEN_WORKSPACE,
      actor: { type: "user", id: OWNER },
      data: { workspace: { id: GOLDEN_WORKSPACE, name: "Acme", slug: "acme" }, ownerId: OWNER },
    },
    headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", clientIp: "203.0.113.7", userAgent: "curl/8.5.0" },
  },
  {
    envelope: {
      id: "0190a1b2-0000-7000-8000-00000000e002",
      type: "member.added",
      occurredAt: "2025-03-01T09:05:00.000Z",
      workspaceId: GOLDEN_WORKSPACE,
      actor: { type: "user", id: OWNER },
      data: { userId: GRACE, email: "grace@example.com", role: "member" },
    },
    headers: { traceparent: "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", clientIp: "203.0.113.7", userAgent: "Mozilla/5.0 (X11; Linux x86_64) Ünïcode ☃" },
  },
  {
    envelope: {
      id: "0190a1b2-0000-7000-8000-00000000e003",
      type: "member.role_changed",
      occurredAt: "2025-03-01T09:06:30.250+01:00",
      workspaceId: GOLDEN_WORKSPACE,
      actor: { type: "user", id: OWNER },
      data: { userId: GRACE, role: "admin", before: "member", permissions: { agents: { delete: true } }, permissionsBefore: {} },
    },
    headers: { traceparent: "00-6bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", clientIp: "2001:db8::1", userAgent: undefined },
  },
  {
    envelope: {
      id: "0190a1b2-0000-7000-8000-00000000e004",
      type: "api_key.created",
      occurredAt: "2025-03-02T00:00:00.000Z",
      workspaceId: GOLDEN_WORKSPACE,
      actor: { type: "user", id: GRACE },
      data: {
        keyInfo: { id: KEY, name: "CI", role: "member", prefix: "gxk_ab12", createdBy: GRACE, createdAt: "2025-03-02T00:00:00.000Z", expiresAt: null },
      },
    },
    headers: { traceparent: "00-7bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", clientIp: undefined, userAgent: undefined },
  },
  {
    envelope: {
      id: "0190a1b2-0000-7000-8000-00000000e005",
      type: "provider_credential.updated",
      occurredAt: "2025-03-02T00:01:00.000Z",
      workspaceId: GOLDEN_WORKSPACE,
      actor: { type: "api_key", id: KEY },
      data: { provider: "openai", last4: "9xYz", baseUrl: null },
    },
    headers: { traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01", clientIp: "198.51.100.23", userAgent: "galaxy-sdk/1.0" },
  },
  {
    envelope: {
      id: "0190a1b2-0000-7000-8000-00000000e006",
      type: "security.cross_workspace_attempt",
      occurredAt: "2025-03-03T12:00:00.000Z",
      workspaceId: GOLDEN_WORKSPACE,
      actor: { type: "service", id: "agent-registry" },
      data: {
        actor: { type: "user", id: GRACE },
        targetType: "agent",
        targetId: "0190a1b2-0000-7000-8000-0000000000ff",
        operation: "registry.agents.get",
        ipAddress: "203.0.113.9",
        userAgent: null,
      },
    },
    headers: { traceparent: "00-8bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", clientIp: "203.0.113.9", userAgent: undefined },
  },
  {
    envelope: {
      id: "0190a1b2-0000-7000-8000-00000000e007",
      type: "member.removed",
      occurredAt: "2025-03-04T00:00:00Z",
      workspaceId: GOLDEN_WORKSPACE,
      actor: { type: "operator", id: "galaxy-cli" },
      data: { userId: GRACE, role: "admin" },
    },
    headers: { traceparent: "00-9bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", clientIp: undefined, userAgent: undefined },
  },
];

/** The golden events, parsed as a consumer would see them, in stream order. */
export function goldenSources(): AuditSource[] {
  return events.map(({ envelope, headers }) => {
    const parsed = parseEvent(envelope);
    if (!parsed.ok) throw new Error(`a golden event no longer parses: ${parsed.error}`);
    const event: TypedEvent = parsed.event;
    return { event, headers };
  });
}

/**
 * The chain the golden events make, entry by entry: pinned, never recomputed by the tests.
 * Entry 2 was also reproduced outside Galaxy's code: Python's `json.dumps(entry,
 * sort_keys=True, separators=(",", ":"), ensure_ascii=False)` (RFC 8785 for these values),
 * prefixed with entry 1's hash, through SHA-256.
 */
export const GOLDEN_HASHES: readonly string[] = [
  "8f6782582a9d9d779610802569cb47dc468a8216d3f5726e05206edc9d4251ce",
  "555858ae34e982fc4f66326dcc22f21927351b756c5560be848502de32e63785",
  "76fdc7ae6f7cbb43c08da78e21fa9bbeda733f9b4ef05c0ae0c608709767cd09",
  "097c48f035c0605aba51b4165ac0adfcf229bc5f843152e16d503aa666c26956",
  "0166cf533c8517ed30e137ed8754f8fdf9fccda0faffdab72f7310ea30111fbd",
  "5e21c8d163655cda0b50950b6040f6d13fa82fa140d7b5610cee6e7a7e28b0af",
  "8ec6febecaff4607e9db47cae27e99fb5b18ef05836b0fa8a11036cfcfa7f802",
];
