import { z } from "zod";
import { ValidationError } from "./errors";

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).default(0),
});
export type PageQuery = z.infer<typeof PageQuery>;

/**
 * The query of a list that pages by cursor as well (docs/api.md, Pagination): with `cursor`,
 * `offset` is ignored and no `total` is counted; an empty `cursor` is the first page so.
 */
export const CursorPageQuery = PageQuery.extend({
  cursor: z.string().max(512).optional().describe("`pagination.nextCursor` of the previous page; empty for the first page. Takes precedence over `offset`."),
});
export type CursorPageQuery = z.infer<typeof CursorPageQuery>;

export const Pagination = z.object({
  limit: z.number().int(),
  hasMore: z.boolean(),
  total: z.number().int().optional().describe("How many items match; the offset form only"),
  offset: z.number().int().optional().describe("The offset form only"),
  nextCursor: z.string().nullable().optional().describe("The `cursor` of the next page (null on the last); lists that page by cursor only"),
});
export type Pagination = z.infer<typeof Pagination>;

export function pagination(total: number, page: PageQuery): Pagination {
  return { total, limit: page.limit, offset: page.offset, hasMore: page.offset + page.limit < total };
}

/** A page of items as services return it and the gateway renders it. */
export function Page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), pagination: Pagination });
}

/**
 * An opaque cursor: base64url JSON of the list's name, a digest of its filters (a cursor is
 * refused under other filters) and the sort key of the last item of the page.
 */
const CursorBody = z.object({ l: z.string(), f: z.string(), k: z.unknown() });

/** FNV-1a of the filters: a cursor only has to notice other filters, not resist forgery (each page is read inside the caller's workspace anyway). */
function filterDigest(filters: Record<string, unknown>): string {
  const entries = Object.entries(filters).filter(([, value]) => value !== undefined).sort(([a], [b]) => a.localeCompare(b));
  let hash = 0x811c9dc5;
  for (const char of JSON.stringify(entries)) hash = Math.imul(hash ^ (char.codePointAt(0) ?? 0), 0x01000193) >>> 0;
  return hash.toString(36);
}

// base64url without Buffer, so the contracts stay usable in a browser.
function toBase64Url(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text))).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): string {
  const bytes = Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (char) => char.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

export function encodeCursor(list: string, filters: Record<string, unknown>, key: unknown): string {
  return toBase64Url(JSON.stringify({ l: list, f: filterDigest(filters), k: key }));
}

export class InvalidCursorError extends ValidationError {
  constructor() {
    super("The cursor is not one this list answered under these filters; start again without it", { "querystring.cursor": "unknown cursor" }, "invalid_cursor");
    this.name = "InvalidCursorError";
  }
}

/** The sort key a cursor carries; undefined for an empty cursor (the first page). */
export function decodeCursor<S extends z.ZodType>(list: string, filters: Record<string, unknown>, cursor: string, key: S): z.infer<S> | undefined {
  if (cursor === "") return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(fromBase64Url(cursor));
  } catch {
    throw new InvalidCursorError();
  }
  const body = CursorBody.safeParse(raw);
  if (!body.success || body.data.l !== list || body.data.f !== filterDigest(filters)) throw new InvalidCursorError();
  const parsed = key.safeParse(body.data.k);
  if (!parsed.success) throw new InvalidCursorError();
  return parsed.data;
}

/** The pagination of a page read by cursor: `limit + 1` rows were asked for, to know whether more follow. */
export function cursorPage<T>(rows: T[], limit: number, nextCursorOf: (last: T) => string): { items: T[]; pagination: Pagination } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  const hasMore = rows.length > limit && last !== undefined;
  return { items, pagination: { limit, hasMore, nextCursor: hasMore ? nextCursorOf(last) : null } };
}

/**
 * How much of a list one reply carries at most, in characters of its items' JSON (at most three
 * bytes each in UTF-8): well under the 1 MB a NATS server carries in a message by default.
 */
export const PAGE_REPLY_CHARS = 256 * 1024;

/**
 * A page cut short when its items' JSON would pass `maxChars`: it keeps the items before that
 * (always the first), and says there is more, with `limit` the items it kept, so that the next
 * page (by its cursor, or at `offset + limit`) starts at the first one left out. A workspace
 * whose executions carry large inputs and outputs thus lists them in smaller pages rather than
 * in a reply the bus cannot carry.
 */
export function fitPage<T>(items: T[], page: Pagination, nextCursorOf: (last: T) => string, maxChars = PAGE_REPLY_CHARS): { items: T[]; pagination: Pagination } {
  let chars = 0;
  let kept = 0;
  for (const item of items) {
    chars += JSON.stringify(item).length;
    if (kept > 0 && chars > maxChars) break;
    kept++;
  }
  const last = items[kept - 1];
  if (kept === items.length || last === undefined) return { items, pagination: page };
  return { items: items.slice(0, kept), pagination: { ...page, limit: kept, hasMore: true, nextCursor: nextCursorOf(last) } };
}
