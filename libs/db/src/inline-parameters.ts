import { prepareValue } from "pg/lib/utils.js";

/**
 * A compiled statement with its parameters written in as literals, for the simple query
 * protocol (one message may then carry several statements), or undefined when one of them
 * cannot be written so (binary data, or a NUL character, which ends the message's text).
 *
 * Each value goes through node-postgres' own conversion (`prepareValue`: dates, arrays, JSON,
 * numbers and booleans become the text the driver would have sent) and is then quoted as its
 * `escapeLiteral` quotes ({@link quoteLiteral}), so it reaches Postgres as a string literal of
 * unknown type: Postgres infers its type from where it stands, as it does for a parameter.
 * Placeholders are found outside quoted strings, quoted names, dollar-quoted bodies and
 * comments only.
 */
export function inlineParameters(text: string, parameters: readonly unknown[]): string | undefined {
  const literals: string[] = [];
  for (const parameter of parameters) {
    const prepared = prepareValue(parameter);
    if (prepared === null) literals.push("NULL");
    else if (typeof prepared !== "string" || prepared.includes("\0")) return undefined;
    else literals.push(quoteLiteral(prepared));
  }
  // One pass: runs of plain text are copied whole; only the characters that can start a
  // placeholder, a quoted string, a quoted name, a dollar quote or a comment are looked at.
  let out = "";
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (!STARTS.has(c)) {
      i += 1;
      continue;
    }
    const skipped = quotedOrCommentEnd(text, i);
    if (skipped > i) {
      i = skipped;
      continue;
    }
    const digitsEnd = c === DOLLAR ? digitsFrom(text, i + 1) : i + 1;
    if (digitsEnd > i + 1 && !isWordOrDollar(text.charCodeAt(i - 1))) {
      const index = text.slice(i + 1, digitsEnd);
      const literal = literals[Number(index) - 1];
      if (literal === undefined) throw new Error(`the statement names $${index}, which has no parameter`);
      out += text.slice(copied, i) + literal;
      copied = digitsEnd;
    }
    i = digitsEnd;
  }
  return out + text.slice(copied);
}

/**
 * `value` as a string literal, exactly as node-postgres' `escapeLiteral` writes it, without
 * building it a character at a time as that does (which cost a large statement milliseconds).
 */
export function quoteLiteral(value: string): string {
  const hasQuote = value.includes("'");
  const hasBackslash = value.includes("\\");
  if (!hasQuote && !hasBackslash) return `'${value}'`;
  const doubled = (hasQuote ? value.replaceAll("'", "''") : value).replaceAll("\\", "\\\\");
  return hasBackslash ? ` E'${doubled}'` : `'${doubled}'`;
}

const DOLLAR = 0x24;
/** `'`, `"`, `-`, `/` and `$`: where a quoted string, a comment, a dollar quote or a placeholder may start. */
const STARTS = new Set([0x27, 0x22, 0x2d, 0x2f, DOLLAR]);

function digitsFrom(text: string, i: number): number {
  let j = i;
  while (j < text.length && text.charCodeAt(j) >= 0x30 && text.charCodeAt(j) <= 0x39) j += 1;
  return j;
}

/** Whether `c` belongs to an identifier (`y$1` names a column, not a placeholder). */
function isWordOrDollar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === DOLLAR;
}

/** Where the quoted string, quoted name, dollar-quoted body or comment starting at `i` ends; `i` when none starts there. */
function quotedOrCommentEnd(text: string, i: number): number {
  const c = text[i];
  if (c === "'" || c === '"') {
    // A doubled quote stays inside; E'...' strings may escape one with a backslash.
    const escapes = c === "'" && /[eE]/.test(text[i - 1] ?? "");
    let j = i + 1;
    while (j < text.length) {
      if (escapes && text[j] === "\\") j += 2;
      else if (text[j] === c && text[j + 1] === c) j += 2;
      else if (text[j] === c) return j + 1;
      else j += 1;
    }
    return text.length;
  }
  if (c === "-" && text[i + 1] === "-") {
    const end = text.indexOf("\n", i);
    return end === -1 ? text.length : end + 1;
  }
  if (c === "/" && text[i + 1] === "*") {
    const end = text.indexOf("*/", i + 2);
    return end === -1 ? text.length : end + 2;
  }
  if (c === "$") {
    const tag = /^\$([A-Za-z_][\w]*)?\$/.exec(text.slice(i, i + 64));
    if (tag) {
      const end = text.indexOf(tag[0], i + tag[0].length);
      return end === -1 ? text.length : end + tag[0].length;
    }
  }
  return i;
}
