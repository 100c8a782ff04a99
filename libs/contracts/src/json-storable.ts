import { ValidationError } from "./errors";

/**
 * What Postgres `jsonb` (and Galaxy's event bus) cannot hold, found before a value is accepted
 * (docs/errors.md, `invalid_value`): a NUL character or a lone UTF-16 surrogate in a string or
 * a key, a number JSON cannot write (`1e400` parses to Infinity, which would be stored as
 * `null`), or nesting deeper than `MAX_JSON_DEPTH`. Iterative, so a hostile depth can never
 * overflow the stack, and cheap enough for every request.
 */

/** How many objects and arrays a value may hold inside each other; the top-level one counts as 1. */
export const MAX_JSON_DEPTH = 64;

export type UnstorableReason = "nul_character" | "lone_surrogate" | "number_out_of_range" | "too_deep" | "not_json";

export interface Unstorable {
  /** Where it is: object keys and array indexes from the top, empty for the value itself. */
  path: Array<string | number>;
  reason: UnstorableReason;
}

export const UNSTORABLE_MESSAGES: Record<UnstorableReason, string> = {
  nul_character: "contains a NUL character (\\u0000), which cannot be stored",
  lone_surrogate: "contains a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode",
  number_out_of_range: "is a number too large to represent",
  too_deep: `nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`,
  not_json: "is not a JSON value",
};

// Matches any string that may hold a problem; the precise checks run only then.
const SUSPECT = /[\u0000\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function stringProblem(text: string): UnstorableReason | undefined {
  if (!SUSPECT.test(text)) return undefined;
  if (text.includes("\u0000")) return "nul_character";
  return LONE_SURROGATE.test(text) ? "lone_surrogate" : undefined;
}

interface Frame {
  container: object;
  depth: number;
  parent: Frame | undefined;
  key: string | number;
}

function pathOf(frame: Frame | undefined, last?: string | number): Array<string | number> {
  const path: Array<string | number> = last === undefined ? [] : [last];
  for (let at = frame; at?.parent; at = at.parent) path.unshift(at.key);
  return path;
}

/** Something in `value` that cannot be stored (the first one met), or undefined when all of it can. */
export function findUnstorable(value: unknown, maxDepth: number = MAX_JSON_DEPTH): Unstorable | undefined {
  const stack: Frame[] = [];
  // Checks one value found in `parent` at `key`; a container is queued, anything else judged now.
  const visit = (item: unknown, parent: Frame | undefined, key: string | number): Unstorable | undefined => {
    switch (typeof item) {
      case "string": {
        const reason = stringProblem(item);
        return reason ? { path: pathOf(parent, parent ? key : undefined), reason } : undefined;
      }
      case "number":
        return Number.isFinite(item) ? undefined : { path: pathOf(parent, parent ? key : undefined), reason: "number_out_of_range" };
      case "boolean":
      case "undefined":
        return undefined;
      case "object": {
        if (item === null) return undefined;
        const depth = (parent?.depth ?? 0) + 1;
        if (depth > maxDepth) return { path: pathOf(parent, parent ? key : undefined), reason: "too_deep" };
        stack.push({ container: item, depth, parent, key });
        return undefined;
      }
      default:
        return { path: pathOf(parent, parent ? key : undefined), reason: "not_json" };
    }
  };

  const top = visit(value, undefined, "");
  if (top) return top;
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    const { container } = frame;
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i += 1) {
        const found = visit(container[i], frame, i);
        if (found) return found;
      }
      continue;
    }
    for (const key of Object.keys(container)) {
      const keyReason = stringProblem(key);
      if (keyReason) return { path: pathOf(frame, key), reason: keyReason };
      const found = visit((container as Record<string, unknown>)[key], frame, key);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Throws 400 `invalid_value` when `value` holds something that cannot be stored; `where` names
 * the part of the request it came from (`body`, `query`, `params`) in `details`.
 */
export function assertStorable(value: unknown, where: string): void {
  const found = findUnstorable(value);
  if (!found) return;
  const field = [where, ...found.path.map(String)].join(".");
  throw new ValidationError(`A value in the request ${where} cannot be stored`, { [field]: UNSTORABLE_MESSAGES[found.reason] }, "invalid_value");
}
