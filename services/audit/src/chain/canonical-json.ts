/**
 * A JSON value that RFC 8785 (JCS) can serialize. Object properties may be `undefined`:
 * they are left out, as JSON.stringify leaves them out, so optional fields can be passed
 * as they are.
 */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue | undefined };

/** Why a value has no canonical form. */
export type CanonicalJsonErrorCode =
  | 'non_finite_number'
  | 'lone_surrogate'
  | 'unsupported_value'
  | 'circular_reference';

/**
 * The value cannot be canonicalized. `path` points at the offending value (`$` is the
 * root, e.g. `$.changes.after.items[2]`).
 */
export class CanonicalJsonError extends Error {
  readonly code: CanonicalJsonErrorCode;
  readonly path: string;

  constructor(code: CanonicalJsonErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(`${message} at ${path}`, options);
    this.name = 'CanonicalJsonError';
    this.code = code;
    this.path = path;
  }
}

/**
 * Where a value sits, kept as links to its parent and written out only for an error: a
 * path string built for every property would cost more than serializing it.
 */
type Place = { readonly parent: Place; readonly key: string | number } | null;

// With the u flag a well-formed surrogate pair is one code point, so only a lone
// surrogate matches. Module-level and without g, so test() keeps no state between calls.
const LONE_SURROGATE = /\p{Cs}/u;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `$` for the root, then `.name`, `["odd name"]` or `[index]` per level. */
function pathOf(place: Place): string {
  if (place === null) return '$';
  const { parent, key } = place;
  if (typeof key === 'number') return `${pathOf(parent)}[${key}]`;
  return IDENTIFIER.test(key) ? `${pathOf(parent)}.${key}` : `${pathOf(parent)}[${JSON.stringify(key)}]`;
}

/**
 * Serializes `value` per RFC 8785, the JSON Canonicalization Scheme: no whitespace,
 * object properties sorted by the UTF-16 code units of their names, strings and numbers
 * written as ECMAScript's JSON.stringify writes them, array order kept, `undefined`
 * properties omitted.
 *
 * Stricter than JSON.stringify where it would silently change the data, because a hash
 * over changed data verifies nothing:
 * - NaN and ±Infinity are rejected (`non_finite_number`), not written as `null`;
 * - strings (values and property names) with a lone UTF-16 surrogate are rejected
 *   (`lone_surrogate`): RFC 8785 requires Unicode strings, and such a string could not be
 *   stored as UTF-8 and read back unchanged;
 * - `undefined` outside an object property, bigints, functions, symbols and objects that
 *   are not plain (a `Date`, a `Map`, a class instance) are rejected (`unsupported_value`),
 *   instead of becoming `null`, `{}` or whatever `toJSON` returns;
 * - a cycle is rejected (`circular_reference`).
 *
 * @throws {CanonicalJsonError}
 */
export function canonicalJson(value: JsonValue): string {
  return serialize(value, null, new Set());
}

/**
 * {@link canonicalJson} of a value that sits at `$.<key>` (or `$.<key>.<subKey>`) of an object
 * whose properties the caller writes itself, in their sorted order: an error names the value's
 * place in that object. A null, a finite number or a string that needs no escape is written
 * without building its place.
 *
 * @throws {CanonicalJsonError}
 */
export function canonicalJsonAt(value: JsonValue, key: string, subKey?: string): string {
  if (value === null) return 'null';
  if (typeof value === 'string' && !ESCAPED.test(value) && !LONE_SURROGATE.test(value)) return `"${value}"`;
  if (typeof value === 'number' && Number.isFinite(value)) return JSON.stringify(value);
  const parent: Place = { parent: null, key };
  return serialize(value, subKey === undefined ? parent : { parent, key: subKey }, new Set());
}

function serialize(value: unknown, place: Place, ancestors: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) {
        throw new CanonicalJsonError('non_finite_number', pathOf(place), `${String(value)} has no JSON representation`);
      }
      // ECMAScript's Number-to-String is the algorithm RFC 8785 adopts; it also writes -0 as 0.
      return JSON.stringify(value);
    case 'string':
      return serializeString(value, place);
    case 'object':
      return Array.isArray(value)
        ? serializeArray(value, place, ancestors)
        : serializeObject(value, place, ancestors);
    default:
      throw new CanonicalJsonError('unsupported_value', pathOf(place), `${typeof value} is not a JSON value`);
  }
}

/** What JSON.stringify escapes in a well-formed string: quote, backslash, control characters. */
const ESCAPED = /["\\\u0000-\u001f]/;

function serializeString(value: string, place: Place): string {
  if (LONE_SURROGATE.test(value)) {
    throw new CanonicalJsonError('lone_surrogate', pathOf(place), 'string contains a lone UTF-16 surrogate');
  }
  // Most strings (ids, names, timestamps) need no escape: quoted as they are, as JSON.stringify
  // would write them, at a tenth of its cost for a string alone.
  return ESCAPED.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function serializeArray(value: readonly unknown[], place: Place, ancestors: Set<object>): string {
  enter(value, place, ancestors);
  let out = '[';
  for (let i = 0; i < value.length; i++) {
    if (i > 0) out += ',';
    // A hole or undefined would become null under JSON.stringify: refuse rather than guess.
    out += serialize(value[i], { parent: place, key: i }, ancestors);
  }
  ancestors.delete(value);
  return `${out}]`;
}

function serializeObject(value: object, place: Place, ancestors: Set<object>): string {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const kind = value.constructor?.name ?? 'object';
    throw new CanonicalJsonError('unsupported_value', pathOf(place), `a ${kind} is not a plain JSON object`);
  }
  enter(value, place, ancestors);
  const record = value as Record<string, unknown>;
  // The default sort compares UTF-16 code units, which is exactly RFC 8785's order
  // (not code point order: U+1F600 sorts before U+FB33).
  const keys = Object.keys(record);
  sortNames(keys);
  let out = '{';
  let first = true;
  for (const key of keys) {
    const child = record[key];
    if (child === undefined) continue;
    const childPlace = { parent: place, key };
    if (!first) out += ',';
    first = false;
    out += `${serializeString(key, childPlace)}:${serialize(child, childPlace, ancestors)}`;
  }
  ancestors.delete(value);
  return `${out}}`;
}

/** Objects with at most this many names are sorted by insertion. */
const FEW_NAMES = 16;

/**
 * Sorts an object's names in place in the order of `Array.prototype.sort`'s default (UTF-16
 * code units). An object of few names, what audit hashes, is sorted by insertion, which
 * allocates nothing and does no work on names already in order: V8's sort allocates about 1 KB
 * a call whatever the length (its merge state), which came to a sixteenth of what audit
 * allocated as it ingested (docs/benchmarks.md, "Where a rebuild's allocations and Postgres's
 * time go").
 */
export function sortNames(keys: string[]): void {
  if (keys.length > FEW_NAMES) {
    if (!inOrder(keys)) keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] ?? '';
    let j = i - 1;
    while (j >= 0 && (keys[j] ?? '') > key) {
      keys[j + 1] = keys[j] ?? '';
      j -= 1;
    }
    keys[j + 1] = key;
  }
}

/** Whether the names are in order already (objects built in order need no sort). */
function inOrder(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] ?? '') > (keys[i] ?? '')) return false;
  }
  return true;
}

function enter(value: object, place: Place, ancestors: Set<object>): void {
  if (ancestors.has(value)) {
    throw new CanonicalJsonError('circular_reference', pathOf(place), 'value contains itself');
  }
  ancestors.add(value);
}
