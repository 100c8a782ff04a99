import { hash } from 'node:crypto';
import { canonicalJsonAt, type JsonValue } from './canonical-json.js';

/** The `prevHash` of the first entry of every workspace's chain: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Where a chain starts when no prefix of it has been removed by retention. */
export const GENESIS_HEAD: ChainHead = Object.freeze({ seq: 0, hash: GENESIS_HASH });

/** The last entry of a chain (or a checkpoint): its `seq` and `hash`. */
export type ChainHead = { seq: number; hash: string };

/** The contract's audit actor; the chain stays free of zod, so it takes the type alone. */
export type { AuditActor } from '@galaxy/contracts';
import type { AuditActor } from '@galaxy/contracts';

export type AuditChanges = { before: JsonValue; after: JsonValue };

/**
 * Every field of an audit entry that its hash covers (docs/api.md "Audit entry" minus
 * `hash`). All of them come from the event the entry records, never from the time of
 * insertion. Fields that may be unknown are `null`, never absent, so the hashed JSON has
 * the same shape for every entry.
 */
export type AuditEntryFields = {
  id: string;
  workspaceId: string;
  /** Position in the workspace's chain, from 1. */
  seq: number;
  actor: AuditActor;
  action: string;
  resourceType: string;
  resourceId: string;
  changes: AuditChanges | null;
  ipAddress: string | null;
  userAgent: string | null;
  traceId: string | null;
  /** Hashed as this exact string: storage must give back the same text. */
  occurredAt: string;
  prevHash: string;
};

export type HashedAuditEntry = AuditEntryFields & { hash: string };

/** An entry before it has a place in a chain. */
export type AuditEntryDraft = Omit<AuditEntryFields, 'seq' | 'prevHash'>;

export type ChainBreak = 'hash_mismatch' | 'prev_hash_mismatch' | 'seq_gap';

export type ChainVerification =
  | { valid: true; entries: number; head: ChainHead }
  | { valid: false; entries: number; firstBadSeq: number; reason: ChainBreak };

/** A hashed field is `undefined`, which canonical JSON would silently leave out. */
export class IncompleteAuditEntryError extends Error {
  readonly code = 'incomplete_audit_entry';
  readonly field: string;

  constructor(field: string) {
    super(`audit entry field ${field} is undefined; use null for an unknown value`);
    this.name = 'IncompleteAuditEntryError';
    this.field = field;
  }
}

/**
 * `sha256_hex(prevHash + canonicalJson(fields))`, UTF-8. `prevHash` is both the prefix
 * and one of the hashed fields. Only the fields of {@link AuditEntryFields} are hashed:
 * extra properties (a stored row's `hash`, `insertedAt`, …) are ignored.
 *
 * @throws {IncompleteAuditEntryError} a hashed field is `undefined`
 * @throws {CanonicalJsonError} `changes` holds something JSON cannot carry exactly
 */
export function hashEntry(entry: AuditEntryFields): string {
  return hashOfFields(hashedFields(entry, entry.seq, entry.prevHash));
}

/**
 * {@link hashEntry} of fields {@link hashedFields} picked and checked already. One call of
 * `crypto.hash` rather than a `Hash` object fed twice: the same digest, for about half the
 * time of an entry's hash and no native object for the collector to finalize
 * (docs/benchmarks.md, "An entry's hash in one call").
 */
function hashOfFields(fields: AuditEntryFields): string {
  return hash('sha256', fields.prevHash + canonicalFields(fields), 'hex');
}

/**
 * `canonicalJson(fields)`, written property by property in the order RFC 8785 sorts their
 * names (UTF-16 code units): the same text, without listing and sorting the names of every
 * entry. `canonical-fields.test.ts` compares the two on entries of every shape: a field added
 * to AuditEntryFields and not written here fails it.
 */
export function canonicalFields(f: AuditEntryFields): string {
  return (
    `{"action":${canonicalJsonAt(f.action, 'action')}` +
    `,"actor":{"id":${canonicalJsonAt(f.actor.id, 'actor', 'id')},"type":${canonicalJsonAt(f.actor.type, 'actor', 'type')}}` +
    `,"changes":${canonicalJsonAt(f.changes, 'changes')}` +
    `,"id":${canonicalJsonAt(f.id, 'id')}` +
    `,"ipAddress":${canonicalJsonAt(f.ipAddress, 'ipAddress')}` +
    `,"occurredAt":${canonicalJsonAt(f.occurredAt, 'occurredAt')}` +
    `,"prevHash":${canonicalJsonAt(f.prevHash, 'prevHash')}` +
    `,"resourceId":${canonicalJsonAt(f.resourceId, 'resourceId')}` +
    `,"resourceType":${canonicalJsonAt(f.resourceType, 'resourceType')}` +
    `,"seq":${canonicalJsonAt(f.seq, 'seq')}` +
    `,"traceId":${canonicalJsonAt(f.traceId, 'traceId')}` +
    `,"userAgent":${canonicalJsonAt(f.userAgent, 'userAgent')}` +
    `,"workspaceId":${canonicalJsonAt(f.workspaceId, 'workspaceId')}}`
  );
}

/**
 * The entry that follows `head`: `seq` = `head.seq + 1`, `prevHash` = `head.hash`, and its
 * hash. The result's `seq` and `hash` are the next head.
 */
export function appendToChain(head: ChainHead, draft: AuditEntryDraft): HashedAuditEntry {
  const entry = hashedFields(draft, head.seq + 1, head.hash);
  entry.hash = hashOfFields(entry);
  return entry;
}

/**
 * Checks that `entries`, in order, continue the chain from `start`: consecutive `seq`
 * from `start.seq + 1`, each `prevHash` equal to the previous entry's `hash`, each `hash`
 * equal to {@link hashEntry} of its fields. Stops at the first entry that fails.
 *
 * `start` is the retention checkpoint (last removed `seq` and `hash`), or
 * {@link GENESIS_HEAD}. A long chain can be checked in batches: pass each batch's `head`
 * as the next batch's `start`.
 *
 * `entries` counts the entries that verified. On failure, `firstBadSeq` is the first
 * position at which the chain is not intact: for `seq_gap` the `seq` that was expected
 * there (a deleted or moved entry), otherwise the failing entry's `seq`.
 *
 * Removal of the newest entries leaves a valid but shorter chain: compare `head` with a
 * head recorded elsewhere to detect it.
 */
export function verifyChain(entries: Iterable<HashedAuditEntry>, start: ChainHead): ChainVerification {
  let head: ChainHead = { seq: start.seq, hash: start.hash };
  let verified = 0;
  for (const entry of entries) {
    const expectedSeq = head.seq + 1;
    if (entry.seq !== expectedSeq) {
      return { valid: false, entries: verified, firstBadSeq: expectedSeq, reason: 'seq_gap' };
    }
    if (entry.prevHash !== head.hash) {
      return { valid: false, entries: verified, firstBadSeq: entry.seq, reason: 'prev_hash_mismatch' };
    }
    if (hashEntry(entry) !== entry.hash) {
      return { valid: false, entries: verified, firstBadSeq: entry.seq, reason: 'hash_mismatch' };
    }
    head = { seq: entry.seq, hash: entry.hash };
    verified++;
  }
  return { valid: true, entries: verified, head };
}

// Picks each hashed field by name so nothing else reaches the hash, into an entry whose `hash`
// is still to be written (an object literal, not a spread: spreading a draft of thirteen
// fields cost more than hashing it). `satisfies` makes a field added to AuditEntryFields a
// compile error here until it is picked too.
function hashedFields(entry: AuditEntryDraft, seq: number, prevHash: string): HashedAuditEntry {
  const { actor, changes } = entry;
  const fields = {
    id: entry.id,
    workspaceId: entry.workspaceId,
    seq,
    // `&&` passes a missing actor or changes through to requireDefined instead of a TypeError.
    actor: actor && { type: actor.type, id: actor.id },
    action: entry.action,
    resourceType: entry.resourceType,
    resourceId: entry.resourceId,
    changes: changes && { before: changes.before, after: changes.after },
    ipAddress: entry.ipAddress,
    userAgent: entry.userAgent,
    traceId: entry.traceId,
    occurredAt: entry.occurredAt,
    prevHash,
    hash: '',
  } satisfies { [K in keyof HashedAuditEntry]-?: JsonValue };
  requireDefined(fields, '');
  requireDefined(fields.actor, 'actor.');
  if (fields.changes !== null) requireDefined(fields.changes, 'changes.');
  return fields;
}

// The type already forbids undefined; this guards rows mapped from outside by mistake.
function requireDefined(record: Record<string, unknown>, prefix: string): void {
  for (const key in record) {
    if (record[key] === undefined) throw new IncompleteAuditEntryError(prefix + key);
  }
}
