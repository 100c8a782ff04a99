import pg from "pg";
import { prepareValue } from "pg/lib/utils.js";

/**
 * A compiled statement with its parameters written in as literals, for the simple query
 * protocol (one message may then carry several statements), or undefined when one of them
 * cannot be written so (binary data, or a NUL character, which ends the message's text).
 *
 * Each value goes through node-postgres' own conversion (`prepareValue`: dates, arrays, JSON,
 * numbers and booleans become the text the driver would have sent) and is then quoted with its
 * `escapeLiteral`, so it reaches Postgres as a string literal of unknown type: Postgres infers
 * its type from where it stands, as it does for a parameter. Placeholders are found outside
 * quoted strings, quoted names, dollar-quoted bodies and comments only.
 */
export function inlineParameters(text: string, parameters: readonly unknown[]): string | undefined {
  const literals: string[] = [];
  for (const parameter of parameters) {
    const prepared = prepareValue(parameter);
    if (prepared === null) literals.push("NULL");
    else if (typeof prepared !== "string" || prepared.includes("\0")) return undefined;
    else literals.push(pg.escapeLiteral(prepared));
  }
  let out = "";
  let i = 0;
  while (i < text.length) {
    const skipped = quotedOrCommentEnd(text, i);
    if (skipped > i) {
      out += text.slice(i, skipped);
      i = skipped;
      continue;
    }
    const placeholder = /^\$(\d+)/.exec(text.slice(i, i + 12));
    if (placeholder && !/[\w$]/.test(text[i - 1] ?? "")) {
      const literal = literals[Number(placeholder[1]) - 1];
      if (literal === undefined) throw new Error(`the statement names $${placeholder[1]}, which has no parameter`);
      out += literal;
      i += placeholder[0].length;
      continue;
    }
    out += text[i];
    i += 1;
  }
  return out;
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
