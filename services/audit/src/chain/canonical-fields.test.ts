import { describe, expect, it } from 'vitest';
import { CanonicalJsonError, canonicalJson, type JsonValue } from './canonical-json.js';
import { type AuditEntryFields, canonicalFields, hashEntry } from './chain.js';
import { FIRST_ENTRY as BASE } from '../../test/support/first-entry.fixture';

// The hash writes an entry's fields by hand, in their sorted order (chain.ts): it must give
// exactly the text canonicalJson gives for the same fields, whatever they hold.

const asJson = (fields: AuditEntryFields): JsonValue => fields;

describe('canonicalFields', () => {
  it.each<[string, Partial<AuditEntryFields>]>([
    ['the documented first entry', {}],
    ['nulls wherever a field may be unknown', { changes: null, ipAddress: null, userAgent: null, traceId: null }],
    ['strings that need escaping', { userAgent: 'say "hi"\\\n\t\u0001', resourceId: 'a\u001fb', action: 'x"y' }],
    ['characters outside ASCII and surrogate pairs', { userAgent: 'Mozilla ☃ 😀', actor: { type: 'service', id: 'ïd-€' } }],
    ['nested changes with keys out of order', { changes: { before: { z: 1, a: [1, 'two', { y: null, b: true }] }, after: { '😀': 1, 'דּ': 2, '': -0 } } }],
    ['a large sequence number', { seq: 9_007_199_254_740_991 }],
  ])('writes what canonicalJson writes: %s', (_case, patch) => {
    const fields = { ...BASE, ...patch };
    expect(canonicalFields(fields)).toBe(canonicalJson(asJson(fields)));
  });

  it('names the place of a value that has no canonical form', () => {
    const nan = { ...BASE, changes: { before: null, after: { nested: { temperature: Number.NaN } } } };
    expect(() => hashEntry(nan)).toThrow(expect.objectContaining({ code: 'non_finite_number', path: '$.changes.after.nested.temperature' }));
    const loneInActor = { ...BASE, actor: { type: 'user' as const, id: 'a\uD800' } };
    expect(() => hashEntry(loneInActor)).toThrow(CanonicalJsonError);
    expect(() => hashEntry(loneInActor)).toThrow(expect.objectContaining({ code: 'lone_surrogate', path: '$.actor.id' }));
    expect(() => hashEntry({ ...BASE, userAgent: '\uDFFF' })).toThrow(expect.objectContaining({ path: '$.userAgent' }));
  });
});
