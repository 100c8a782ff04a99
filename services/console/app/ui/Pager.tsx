import type { Page } from "../api/client";

/** Previous and next for an offset-paginated list. */
export function Pager({ page, offset, onOffset }: { page: Page<unknown> | undefined; offset: number; onOffset: (offset: number) => void }) {
  if (!page || (offset === 0 && !page.pagination.hasMore)) return null;
  const { limit } = page.pagination;
  const total = page.pagination.total ?? offset + page.data.length;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        Previous
      </button>
      <span>
        {offset + 1}–{Math.min(offset + limit, total)} of {total}
      </span>
      <button type="button" disabled={!page.pagination.hasMore} onClick={() => onOffset(offset + limit)}>
        Next
      </button>
    </nav>
  );
}
