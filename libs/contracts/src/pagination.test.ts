import { describe, expect, test } from "vitest";
import { fitPage, type Pagination } from "./pagination";

const cursorOf = (last: { id: number }) => `after-${last.id}`;
const item = (id: number, chars: number) => ({ id, text: "x".repeat(chars) });
/** An item's JSON is 20 characters plus its text. */
const size = (chars: number) => JSON.stringify(item(1, chars)).length;

describe("fitPage: a page cut to what one reply carries", () => {
  const offsetPage: Pagination = { total: 10, limit: 5, offset: 0, hasMore: true, nextCursor: "after-5" };

  test("a page within the bound is answered as it is", () => {
    const items = [item(1, 10), item(2, 10)];
    expect(fitPage(items, offsetPage, cursorOf, 1_000)).toEqual({ items, pagination: offsetPage });
  });

  test("a page past the bound keeps the items before it, says there is more, and goes on from the first left out", () => {
    const items = [1, 2, 3, 4, 5].map((id) => item(id, 100));
    const { items: kept, pagination } = fitPage(items, offsetPage, cursorOf, size(100) * 2);
    expect(kept.map((i) => i.id)).toEqual([1, 2]);
    expect(pagination).toEqual({ total: 10, limit: 2, offset: 0, hasMore: true, nextCursor: "after-2" });
  });

  test("exactly at the bound, nothing is cut", () => {
    const items = [item(1, 100), item(2, 100)];
    expect(fitPage(items, offsetPage, cursorOf, size(100) * 2).items).toHaveLength(2);
  });

  test("a first item larger than the bound is answered alone", () => {
    const items = [item(1, 5_000), item(2, 10)];
    const { items: kept, pagination } = fitPage(items, { limit: 20, hasMore: false, nextCursor: null }, cursorOf, 1_000);
    expect(kept.map((i) => i.id)).toEqual([1]);
    expect(pagination).toEqual({ limit: 1, hasMore: true, nextCursor: "after-1" });
  });

  test("an empty page stays empty", () => {
    expect(fitPage([], { limit: 20, hasMore: false, nextCursor: null }, cursorOf, 10)).toEqual({ items: [], pagination: { limit: 20, hasMore: false, nextCursor: null } });
  });
});
