import type { RegExpEngine, RegExpLike } from "ajv/dist/types/index.js";
import { RE2JS } from "re2js";
import { UnsupportedPatternError, withJavaScriptMeaning } from "./javascript-meaning";

/**
 * How the schemas of Galaxy's tenants match `pattern`, `patternProperties` and `propertyNames`:
 * on RE2's engine (re2js), whose time grows with the length of the text and never more.
 * JavaScript's own engine backtracks: a pattern such as `^(a+)+$` against forty `a`s and a `!`
 * would hold a service's only thread for hours, and with it every workspace's requests
 * (docs/decisions/0040).
 *
 * A pattern must be a JavaScript regular expression (with the `u` flag), as JSON Schema asks,
 * and keeps JavaScript's meaning (`javascript-meaning.ts`). What RE2 cannot match in linear
 * time (lookahead, lookbehind, backreferences) is refused when the schema is compiled, so an
 * agent that uses it cannot be saved.
 */
export const linearPattern: RegExpEngine = Object.assign(
  (pattern: string): RegExpLike => {
    try {
      // Compiled only, never run: JavaScript's parser says whether it is a pattern at all.
      new RegExp(pattern, "u");
    } catch (error) {
      throw new Error(`pattern ${JSON.stringify(pattern)} is not a valid regular expression: ${messageOf(error)}`);
    }
    try {
      return RE2JS.compile(RE2JS.translateRegExp(withJavaScriptMeaning(pattern)));
    } catch (error) {
      const why = error instanceof UnsupportedPatternError ? `it uses ${error.message}` : messageOf(error);
      throw new Error(`pattern ${JSON.stringify(pattern)} is not supported by Galaxy's linear-time matching (RE2, which has no lookahead, lookbehind or backreferences): ${why}`);
    }
  },
  // Ajv writes this name only into standalone code, which Galaxy does not generate.
  { code: "linearPattern" },
);

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
