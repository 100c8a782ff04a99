import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type AuditEntryDraft,
  type AuditEntryFields,
  type ChainHead,
  type HashedAuditEntry,
  GENESIS_HASH,
  GENESIS_HEAD,
  IncompleteAuditEntryError,
  appendToChain,
  hashEntry,
  verifyChain,
} from './chain.js';
import { FIRST_ENTRY as FIRST, FIRST_WORKSPACE as WORKSPACE } from '../../test/support/first-entry.fixture';

// Written by hand from the field list in docs/audit-chain.md, not produced by the code.
const FIRST_CANONICAL =
  '{"action":"agent.created","actor":{"id":"0190a1b2-0000-7000-8000-0000000000aa","type":"user"},' +
  '"changes":{"after":{"name":"Support bot","temperature":0.5,"ümlaut":"€"},"before":null},' +
  '"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","ipAddress":"203.0.113.7",' +
  '"occurredAt":"2025-01-02T03:04:05.678Z",' +
  '"prevHash":"0000000000000000000000000000000000000000000000000000000000000000",' +
  '"resourceId":"0190a1b2-0000-7000-8000-0000000000bb","resourceType":"agent","seq":1,' +
  '"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","userAgent":"curl/8.5.0",' +
  '"workspaceId":"0190a1b2-0000-7000-8000-000000000001"}';

// `printf '%s%s' "$GENESIS_HASH" "$FIRST_CANONICAL" | sha256sum`, the example in docs/audit-chain.md.
const FIRST_HASH = 'c372f9549b0f183797a7ea1e23c181b0e7bf63b0f5ad844f4524d65e2467e932';

function draft(n: number): AuditEntryDraft {
  return {
    id: `0190a1b2-0000-7000-8000-${String(n).padStart(12, '0')}`,
    workspaceId: WORKSPACE,
    actor: n % 2 === 0 ? { type: 'api_key', id: 'key-1' } : { type: 'service', id: 'execution-worker' },
    action: n % 2 === 0 ? 'agent.updated' : 'execution.completed',
    resourceType: n % 2 === 0 ? 'agent' : 'execution',
    resourceId: `resource-${n}`,
    changes: n % 3 === 0 ? null : { before: { version: n }, after: { version: n + 1, tags: ['a', n] } },
    ipAddress: n % 2 === 0 ? '198.51.100.1' : null,
    userAgent: null,
    traceId: `trace-${n}`,
    occurredAt: new Date(Date.UTC(2025, 0, 1, 0, 0, n)).toISOString(),
  };
}

function buildChain(length: number, start: ChainHead = GENESIS_HEAD): HashedAuditEntry[] {
  const entries: HashedAuditEntry[] = [];
  let head = start;
  for (let n = start.seq + 1; n <= start.seq + length; n++) {
    const entry = appendToChain(head, draft(n));
    entries.push(entry);
    head = entry;
  }
  return entries;
}

function at(entries: readonly HashedAuditEntry[], index: number): HashedAuditEntry {
  const entry = entries[index];
  if (entry === undefined) throw new Error(`no entry at index ${index}`);
  return entry;
}

describe('hashEntry', () => {
  it('starts every chain from 64 zeros', () => {
    expect(GENESIS_HASH).toBe('0'.repeat(64));
    expect(GENESIS_HEAD).toEqual({ seq: 0, hash: GENESIS_HASH });
  });

  it('is sha256 hex of prevHash followed by the canonical JSON of the fields', () => {
    const expected = createHash('sha256').update(GENESIS_HASH + FIRST_CANONICAL, 'utf8').digest('hex');

    expect(hashEntry(FIRST)).toBe(expected);
    expect(hashEntry(FIRST)).toBe(FIRST_HASH);
  });

  it('prepends prevHash and hashes it as a field too', () => {
    const prevHash = 'ab'.repeat(32);
    const canonical = FIRST_CANONICAL.replace(GENESIS_HASH, prevHash);
    const expected = createHash('sha256').update(prevHash + canonical, 'utf8').digest('hex');

    expect(hashEntry({ ...FIRST, prevHash })).toBe(expected);
  });

  it('does not depend on property order and ignores properties that are not hashed', () => {
    const reordered: AuditEntryFields = {
      prevHash: FIRST.prevHash,
      occurredAt: FIRST.occurredAt,
      traceId: FIRST.traceId,
      userAgent: FIRST.userAgent,
      ipAddress: FIRST.ipAddress,
      changes: { after: { ümlaut: '€', temperature: 0.5, name: 'Support bot' }, before: null },
      resourceId: FIRST.resourceId,
      resourceType: FIRST.resourceType,
      action: FIRST.action,
      actor: { id: FIRST.actor.id, type: FIRST.actor.type },
      seq: FIRST.seq,
      workspaceId: FIRST.workspaceId,
      id: FIRST.id,
    };
    const storedRow = { ...FIRST, hash: 'f'.repeat(64), insertedAt: '2030-01-01T00:00:00.000Z' };
    const actorWithExtra = { ...FIRST, actor: { ...FIRST.actor, name: 'Ada' } };

    expect(hashEntry(reordered)).toBe(FIRST_HASH);
    expect(hashEntry(storedRow)).toBe(FIRST_HASH);
    expect(hashEntry(actorWithExtra)).toBe(FIRST_HASH);
  });

  it.each<[string, Partial<AuditEntryFields>]>([
    ['id', { id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c' }],
    ['workspaceId', { workspaceId: '0190a1b2-0000-7000-8000-000000000002' }],
    ['seq', { seq: 2 }],
    ['actor.type', { actor: { type: 'api_key', id: FIRST.actor.id } }],
    ['actor.id', { actor: { type: 'user', id: 'someone-else' } }],
    ['action', { action: 'agent.deleted' }],
    ['resourceType', { resourceType: 'trigger' }],
    ['resourceId', { resourceId: 'other' }],
    ['changes', { changes: null }],
    ['changes.after', { changes: { before: null, after: { name: 'Support bot', temperature: 0.6, ümlaut: '€' } } }],
    ['ipAddress', { ipAddress: null }],
    ['userAgent', { userAgent: 'curl/8.5.1' }],
    ['traceId', { traceId: null }],
    ['occurredAt', { occurredAt: '2025-01-02T03:04:05.679Z' }],
    ['prevHash', { prevHash: '1'.repeat(64) }],
  ])('changes when %s changes', (_field, change) => {
    expect(hashEntry({ ...FIRST, ...change })).not.toBe(FIRST_HASH);
  });

  it('refuses an entry with an undefined field rather than hash it without that field', () => {
    const missing = (patch: Record<string, unknown>, field: string): void => {
      const entry = { ...FIRST, ...patch } as AuditEntryFields;
      expect(() => hashEntry(entry)).toThrow(IncompleteAuditEntryError);
      expect(() => hashEntry(entry)).toThrow(expect.objectContaining({ code: 'incomplete_audit_entry', field }));
    };

    missing({ userAgent: undefined }, 'userAgent');
    missing({ actor: undefined }, 'actor');
    missing({ actor: { type: 'user' } }, 'actor.id');
    missing({ changes: { after: { a: 1 } } }, 'changes.before');
  });
});

describe('appendToChain', () => {
  it('links the entry to the head it follows', () => {
    const entry = appendToChain({ seq: 41, hash: 'cd'.repeat(32) }, draft(42));

    expect(entry.seq).toBe(42);
    expect(entry.prevHash).toBe('cd'.repeat(32));
    expect(entry.hash).toBe(hashEntry(entry));
    expect(entry).toMatchObject(draft(42));
  });

  it('gives the documented hash for the first entry of a chain', () => {
    const { seq: _seq, prevHash: _prevHash, ...rest } = FIRST;

    expect(appendToChain(GENESIS_HEAD, rest).hash).toBe(FIRST_HASH);
  });
});

describe('verifyChain', () => {
  it('accepts an intact chain and returns its head', () => {
    const entries = buildChain(5);

    expect(verifyChain(entries, GENESIS_HEAD)).toEqual({
      valid: true,
      entries: 5,
      head: { seq: 5, hash: at(entries, 4).hash },
    });
  });

  it('accepts an empty chain, whose head is the start', () => {
    expect(verifyChain([], GENESIS_HEAD)).toEqual({ valid: true, entries: 0, head: GENESIS_HEAD });
  });

  it('reads any iterable, such as a generator over pages of rows', () => {
    const entries = buildChain(4);
    function* rows(): Generator<HashedAuditEntry> {
      yield* entries;
    }

    expect(verifyChain(rows(), GENESIS_HEAD)).toMatchObject({ valid: true, entries: 4 });
  });

  it('detects a changed field', () => {
    const entries = buildChain(5);
    entries[2] = { ...at(entries, 2), action: 'agent.deleted' };

    expect(verifyChain(entries, GENESIS_HEAD)).toEqual({
      valid: false,
      entries: 2,
      firstBadSeq: 3,
      reason: 'hash_mismatch',
    });
  });

  it('detects a change inside changes', () => {
    const entries = buildChain(5);
    const original = at(entries, 0);
    entries[0] = { ...original, changes: { before: { version: 1 }, after: { version: 2, tags: ['a', 2] } } };

    expect(verifyChain(entries, GENESIS_HEAD)).toMatchObject({ valid: false, firstBadSeq: 1, reason: 'hash_mismatch' });
  });

  it('detects a changed entry whose hash was recomputed, at the entry after it', () => {
    const entries = buildChain(5);
    const forged = { ...at(entries, 2), resourceId: 'forged' };
    entries[2] = { ...forged, hash: hashEntry(forged) };

    expect(verifyChain(entries, GENESIS_HEAD)).toEqual({
      valid: false,
      entries: 3,
      firstBadSeq: 4,
      reason: 'prev_hash_mismatch',
    });
  });

  it('detects a deleted entry as a gap in seq', () => {
    const entries = buildChain(5);
    entries.splice(2, 1);

    expect(verifyChain(entries, GENESIS_HEAD)).toEqual({
      valid: false,
      entries: 2,
      firstBadSeq: 3,
      reason: 'seq_gap',
    });
  });

  it('detects a deleted entry when the later ones were renumbered', () => {
    const entries = buildChain(5);
    entries.splice(2, 1);
    const renumbered = entries.map((entry, i) => ({ ...entry, seq: i + 1 }));

    expect(verifyChain(renumbered, GENESIS_HEAD)).toEqual({
      valid: false,
      entries: 2,
      firstBadSeq: 3,
      reason: 'prev_hash_mismatch',
    });
  });

  it('detects reordered entries', () => {
    const entries = buildChain(5);
    const swapped = [at(entries, 0), at(entries, 1), at(entries, 3), at(entries, 2), at(entries, 4)];

    expect(verifyChain(swapped, GENESIS_HEAD)).toEqual({
      valid: false,
      entries: 2,
      firstBadSeq: 3,
      reason: 'seq_gap',
    });
  });

  it('detects reordered entries whose seq values were swapped to look in order', () => {
    const entries = buildChain(5);
    const swapped = [
      at(entries, 0),
      at(entries, 1),
      { ...at(entries, 3), seq: 3 },
      { ...at(entries, 2), seq: 4 },
      at(entries, 4),
    ];

    expect(verifyChain(swapped, GENESIS_HEAD)).toMatchObject({
      valid: false,
      firstBadSeq: 3,
      reason: 'prev_hash_mismatch',
    });
  });

  it('detects a duplicated entry', () => {
    const entries = buildChain(3);
    const doubled = [at(entries, 0), at(entries, 1), at(entries, 1), at(entries, 2)];

    expect(verifyChain(doubled, GENESIS_HEAD)).toMatchObject({ valid: false, firstBadSeq: 3, reason: 'seq_gap' });
  });

  it('detects a removed first entry when starting from genesis', () => {
    const entries = buildChain(3).slice(1);

    expect(verifyChain(entries, GENESIS_HEAD)).toEqual({
      valid: false,
      entries: 0,
      firstBadSeq: 1,
      reason: 'seq_gap',
    });
  });

  it('cannot see removed newest entries by itself: the shorter head must be compared', () => {
    const entries = buildChain(5);

    expect(verifyChain(entries.slice(0, 4), GENESIS_HEAD)).toEqual({
      valid: true,
      entries: 4,
      head: { seq: 4, hash: at(entries, 3).hash },
    });
  });

  describe('from a checkpoint', () => {
    it('verifies what retention kept, up to the same head as the whole chain', () => {
      const entries = buildChain(10);
      const checkpoint = { seq: 4, hash: at(entries, 3).hash };

      expect(verifyChain(entries.slice(4), checkpoint)).toEqual({
        valid: true,
        entries: 6,
        head: { seq: 10, hash: at(entries, 9).hash },
      });
    });

    it('continues a chain whose checkpoint is not genesis', () => {
      const checkpoint = { seq: 100, hash: 'ef'.repeat(32) };
      const entries = buildChain(3, checkpoint);

      expect(at(entries, 0)).toMatchObject({ seq: 101, prevHash: checkpoint.hash });
      expect(verifyChain(entries, checkpoint)).toMatchObject({ valid: true, entries: 3, head: { seq: 103 } });
    });

    it('rejects kept entries that do not follow the checkpoint hash', () => {
      const entries = buildChain(10);
      const checkpoint = { seq: 4, hash: at(entries, 2).hash };

      expect(verifyChain(entries.slice(4), checkpoint)).toEqual({
        valid: false,
        entries: 0,
        firstBadSeq: 5,
        reason: 'prev_hash_mismatch',
      });
    });

    it('rejects kept entries that do not follow the checkpoint seq', () => {
      const entries = buildChain(10);
      const checkpoint = { seq: 3, hash: at(entries, 3).hash };

      expect(verifyChain(entries.slice(4), checkpoint)).toMatchObject({ valid: false, firstBadSeq: 4, reason: 'seq_gap' });
    });

    it('checks a long chain in batches, each starting at the previous head', () => {
      const entries = buildChain(9);
      const first = verifyChain(entries.slice(0, 4), GENESIS_HEAD);
      if (!first.valid) throw new Error('first batch should verify');
      const second = verifyChain(entries.slice(4), first.head);

      expect(second).toEqual({ valid: true, entries: 5, head: { seq: 9, hash: at(entries, 8).hash } });
    });
  });
});
