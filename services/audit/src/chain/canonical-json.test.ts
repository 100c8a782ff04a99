import { describe, expect, it } from 'vitest';
import { CanonicalJsonError, canonicalJson, sortNames, type JsonValue } from './canonical-json.js';

function parse(text: string): JsonValue {
  // JSON.parse yields only JSON values; the JsonValue type cannot be proven from `any`.
  const value: unknown = JSON.parse(text);
  return value as JsonValue;
}

function fromIeeeHex(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

function expectError(value: unknown, code: CanonicalJsonError['code'], path: string): void {
  let thrown: unknown;
  try {
    canonicalJson(value as JsonValue);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(CanonicalJsonError);
  expect(thrown).toMatchObject({ name: 'CanonicalJsonError', code, path });
}

describe('canonicalJson: RFC 8785 examples', () => {
  it('serializes the sample of section 3.2.2 as section 3.2.3 shows', () => {
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50,
                  2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`;
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;

    expect(canonicalJson(parse(input))).toBe(expected);
  });

  it('sorts properties by UTF-16 code units (section 3.2.3), not by code points', () => {
    const input = String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`;
    const out = canonicalJson(parse(input));

    expect(out).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control",' +
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",' +
        '"\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    // The order the RFC lists; JSON.parse cannot show it (integer-like names come first).
    const positions = [
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ].map((name) => out.indexOf(`"${name}"`));
    expect(positions.every((at, i) => at > (i === 0 ? 0 : (positions[i - 1] ?? 0)))).toBe(true);
  });

  // RFC 8785 Appendix B: IEEE 754 bit patterns and their required serialization.
  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('writes the double 0x%s as %s', (hex, expected) => {
    expect(canonicalJson([fromIeeeHex(hex)])).toBe(`[${expected}]`);
  });

  it.each([
    ['7fffffffffffffff', 'NaN'],
    ['7ff0000000000000', 'Infinity'],
    ['fff0000000000000', '-Infinity'],
  ])('rejects the double 0x%s (%s)', (hex) => {
    expectError({ n: [1, fromIeeeHex(hex)] }, 'non_finite_number', '$.n[1]');
  });
});

describe('canonicalJson', () => {
  it('writes no whitespace and keeps array order', () => {
    expect(canonicalJson({ b: [3, 1, 2], a: { d: [], c: {} } })).toBe('{"a":{"c":{},"d":[]},"b":[3,1,2]}');
  });

  it('does not depend on the order in which properties were added', () => {
    const one = canonicalJson({ a: 1, b: { y: true, x: null }, aa: 'x', B: 2 });
    const other = canonicalJson({ B: 2, b: { x: null, y: true }, aa: 'x', a: 1 });

    expect(one).toBe(other);
    expect(one).toBe('{"B":2,"a":1,"aa":"x","b":{"x":null,"y":true}}');
  });

  it('escapes strings as JSON.stringify does', () => {
    const value = '\u0000\u0008\t\n\u000b\f\r\u001f "\\/ \u007f </script> \u2028 é';

    expect(canonicalJson(value)).toBe(
      '"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f \\"\\\\/ \u007f </script> \u2028 é"',
    );
  });

  it('writes each character below U+0100, alone and inside text, as JSON.stringify does', () => {
    for (let code = 0; code < 0x100; code++) {
      const char = String.fromCharCode(code);
      for (const value of [char, `id-${char}-0193`]) {
        expect(canonicalJson(value)).toBe(JSON.stringify(value));
        expect(canonicalJson({ [value]: value })).toBe(`{${JSON.stringify(value)}:${JSON.stringify(value)}}`);
      }
    }
  });

  it('omits undefined properties', () => {
    expect(canonicalJson({ a: undefined, b: 1, c: { d: undefined } })).toBe('{"b":1,"c":{}}');
  });

  it('keeps surrogate pairs and rejects lone surrogates in values and names', () => {
    expect(canonicalJson('\ud83d\ude00')).toBe('"\ud83d\ude00"');
    expectError({ a: ['ok', 'x\ud800'] }, 'lone_surrogate', '$.a[1]');
    expectError({ ['\udc00']: 1 }, 'lone_surrogate', '$["\\udc00"]');
  });

  it('rejects undefined outside a property, and values that are not JSON', () => {
    expectError(undefined, 'unsupported_value', '$');
    expectError([1, undefined], 'unsupported_value', '$[1]');
    expectError([1, , 3], 'unsupported_value', '$[1]');
    expectError({ n: 10n }, 'unsupported_value', '$.n');
    expectError({ f: () => 1 }, 'unsupported_value', '$.f');
    expectError({ 'occurred at': new Date(0) }, 'unsupported_value', '$["occurred at"]');
    expectError({ m: new Map() }, 'unsupported_value', '$.m');
  });

  it('accepts objects without a prototype', () => {
    const bare: Record<string, JsonValue> = Object.create(null);
    bare.b = 2;
    bare.a = 1;

    expect(canonicalJson(bare)).toBe('{"a":1,"b":2}');
  });

  it('rejects cycles but accepts a value shared by two properties', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');

    const loop: { self?: unknown } = {};
    loop.self = { again: loop };
    expectError(loop, 'circular_reference', '$.self.again');
  });
});

describe('sortNames', () => {
  // Names that order differently by code unit, code point, case or number.
  const ALPHABET = ['a', 'B', 'b', '_', '1', '10', '9', '', '\u00e9', '\u20ac', '\ud83d\ude00', '\ufb33', 'aa', 'a\u0000', 'Z'];

  it('orders names exactly as the default sort does, below and above the insertion bound', () => {
    let seed = 7;
    const next = () => (seed = (seed * 48271) % 2147483647);
    for (let round = 0; round < 2_000; round++) {
      const length = next() % 40;
      const names = Array.from({ length }, () => `${ALPHABET[next() % ALPHABET.length] ?? ''}${ALPHABET[next() % ALPHABET.length] ?? ''}`);
      const sorted = [...names];
      sortNames(sorted);
      expect(sorted).toEqual([...names].sort());
    }
  });
});
