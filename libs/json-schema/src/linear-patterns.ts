import type { RegExpEngine, RegExpLike } from "ajv/dist/types/index.js";
import { RE2JS } from "re2js";

/**
 * How the schemas of Galaxy's tenants match `pattern`, `patternProperties` and `propertyNames`:
 * on RE2's engine (re2js), whose time grows with the length of the text and never more.
 * JavaScript's own engine backtracks: a pattern such as `^(a+)+$` against forty `a`s and a `!`
 * would hold a service's only thread for hours, and with it every workspace's requests
 * (docs/decisions/0040). The pattern is read with JavaScript's syntax and Unicode meaning
 * (`\p{L}`, `\u{1F600}`, named groups), as JSON Schema asks; what RE2 cannot run in linear time
 * (lookahead, lookbehind, backreferences) is refused when the schema is compiled, so an agent
 * that uses it cannot be saved.
 */
export const linearPattern: RegExpEngine = Object.assign(
  (pattern: string): RegExpLike => {
    try {
      return RE2JS.compile(RE2JS.translateRegExp(pattern));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`pattern ${JSON.stringify(pattern)} cannot be matched in linear time (lookahead, lookbehind and backreferences are not supported): ${reason}`);
    }
  },
  // Ajv writes this name only into standalone code, which Galaxy does not generate.
  { code: "linearPattern" },
);
