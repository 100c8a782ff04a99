/**
 * A JSON Schema pattern rewritten so RE2 gives it JavaScript's meaning (with the `u` flag, as
 * JSON Schema asks), before `RE2JS.translateRegExp` turns its syntax into RE2's. Where the
 * two engines read the same text differently:
 * - `\s` and `\S`: JavaScript's white space includes Unicode's (no-break space, em space,
 *   the byte-order mark…), RE2's is ASCII's alone; written out as JavaScript's set.
 * - `.`: JavaScript's stops at every line terminator (`\n`, `\r`, U+2028, U+2029), RE2's at
 *   `\n` alone; written out as that set. `[^]` (any character) becomes `[\s\S]`.
 * - `\uD83D\uDE00`: one code point for JavaScript, two for RE2; written as `\u{1F600}`.
 * - Inside a class, `[` is a plain character for JavaScript and may open a POSIX class
 *   (`[:alpha:]`) for RE2; escaped. `[\b]` is a backspace for JavaScript; written as one.
 * - `\p{…}`: JavaScript's long names (`Letter`, `General_Category=Letter`, `Script=Greek`)
 *   become the names RE2 knows (`L`, `Greek`).
 * - Group names: RE2 reads fewer than JavaScript, and a schema's check needs none (a
 *   backreference is refused), so `(?<name>…)` becomes `(…)`.
 * What has no linear-time meaning, or none RE2 can give, is refused: named backreferences
 * (`\k<name>`), `\S` inside a character class, modifier groups (`(?i:…)`).
 */
export function withJavaScriptMeaning(pattern: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === "\\") {
      const next = pattern.charAt(i + 1);
      if (next === "") throw new UnsupportedPatternError("a lone \\ at its end");
      const pair = SURROGATE_PAIR.exec(pattern.slice(i, i + 12));
      i += 1;
      if (pair) {
        out += `\\u{${codePointOf(pair[1] as string, pair[2] as string)}}`;
        i += 10;
      } else if (next === "s") out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (next === "S") {
        if (inClass) throw new UnsupportedPatternError("\\S inside a character class");
        out += `[^${WHITE_SPACE}]`;
      } else if (next === "k") throw new UnsupportedPatternError("a backreference (\\k<name>)");
      else if (next === "b" && inClass) out += "\\u0008";
      else if ((next === "p" || next === "P") && pattern.charAt(i + 1) === "{") {
        const end = pattern.indexOf("}", i);
        if (end < 0) throw new UnsupportedPatternError(`\\${next}{ without its }`);
        out += `\\${next}{${propertyName(pattern.slice(i + 2, end))}}`;
        i = end;
      } else out += `\\${next}`;
    } else if (inClass) {
      if (c === "]") inClass = false;
      out += c === "[" ? "\\[" : c;
    } else if (c === "[") {
      if (pattern.startsWith("[^]", i)) {
        out += "[\\s\\S]";
        i += 2;
      } else {
        inClass = true;
        out += c;
      }
    } else if (c === "(" && pattern.charAt(i + 1) === "?") {
      const group = GROUP_NAME.exec(pattern.slice(i));
      if (group) {
        out += "(";
        i += group[0].length - 1;
      } else if (MODIFIERS.test(pattern.slice(i))) throw new UnsupportedPatternError("a modifier group ((?i:…))");
      else out += c;
    } else if (c === ".") out += NOT_A_LINE_TERMINATOR;
    else out += c;
  }
  return out;
}

/** A pattern that has no meaning Galaxy can match in linear time. */
export class UnsupportedPatternError extends Error {}

/** JavaScript's `\s`, as the members of a character class. */
const WHITE_SPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff";
/** An escaped lead surrogate followed by an escaped trail surrogate: one code point for JavaScript. */
const SURROGATE_PAIR = /^\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})/;
/** `(?<name>`, not `(?<=` or `(?<!`. */
const GROUP_NAME = /^\(\?<(?![=!])[^>]*>/;
/** `(?i:`, `(?-s:`, `(?ims-x:`: flags for a group. */
const MODIFIERS = /^\(\?[a-zA-Z-]+:/;

function codePointOf(lead: string, trail: string): string {
  return (0x10000 + ((parseInt(lead, 16) - 0xd800) << 10) + (parseInt(trail, 16) - 0xdc00)).toString(16);
}

/** JavaScript's `.` without the `s` flag. */
const NOT_A_LINE_TERMINATOR = "[^\\n\\r\\u2028\\u2029]";

/** Unicode's long names of the general categories, by the short names RE2 knows. */
const GENERAL_CATEGORIES: Readonly<Record<string, string>> = {
  Letter: "L", Cased_Letter: "LC", Uppercase_Letter: "Lu", Lowercase_Letter: "Ll", Titlecase_Letter: "Lt", Modifier_Letter: "Lm", Other_Letter: "Lo",
  Mark: "M", Combining_Mark: "M", Nonspacing_Mark: "Mn", Spacing_Mark: "Mc", Enclosing_Mark: "Me",
  Number: "N", Decimal_Number: "Nd", digit: "Nd", Letter_Number: "Nl", Other_Number: "No",
  Punctuation: "P", punct: "P", Connector_Punctuation: "Pc", Dash_Punctuation: "Pd", Open_Punctuation: "Ps", Close_Punctuation: "Pe",
  Initial_Punctuation: "Pi", Final_Punctuation: "Pf", Other_Punctuation: "Po",
  Symbol: "S", Math_Symbol: "Sm", Currency_Symbol: "Sc", Modifier_Symbol: "Sk", Other_Symbol: "So",
  Separator: "Z", Space_Separator: "Zs", Line_Separator: "Zl", Paragraph_Separator: "Zp",
  Other: "C", Control: "Cc", cntrl: "Cc", Format: "Cf", Surrogate: "Cs", Private_Use: "Co", Unassigned: "Cn",
};

/** The name RE2 knows for a JavaScript property escape's `{…}`. */
function propertyName(name: string): string {
  const equals = name.indexOf("=");
  if (equals < 0) return GENERAL_CATEGORIES[name] ?? name;
  const [key, value] = [name.slice(0, equals), name.slice(equals + 1)];
  if (key === "General_Category" || key === "gc") return GENERAL_CATEGORIES[value] ?? value;
  if (key === "Script" || key === "sc") return value;
  throw new UnsupportedPatternError(`the property \\p{${name}}`);
}
