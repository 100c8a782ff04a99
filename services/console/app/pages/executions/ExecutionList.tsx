import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import { EXECUTION_STATUSES, TRIGGER_TYPES, type Agent, type Execution } from "../../api/types";
import { Link, navigate, useSearch } from "../../router";
import { EmptyState, ErrorNotice, Loading, PageHeader, StatusBadge } from "../../ui/feedback";
import { formatCost, formatDuration, formatTime, shortId } from "../../ui/format";
import { useExecutionChanges } from "./live";

const PAGE = 100;
const ROW_HEIGHT = 44;
const SINCE: ReadonlyArray<readonly [string, string, number]> = [
  ["", "Any time", 0],
  ["1h", "Last hour", 3_600_000],
  ["24h", "Last 24 hours", 86_400_000],
  ["7d", "Last 7 days", 604_800_000],
];

/** The filters live in the address, so a filtered list can be shared and survives a reload. */
function useFilters() {
  const search = useSearch();
  const filters = { agentId: search.get("agentId") ?? "", status: search.get("status") ?? "", trigger: search.get("trigger") ?? "", since: search.get("since") ?? "" };
  const set = (key: keyof typeof filters, value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(key, value);
    else next.delete(key);
    const text = next.toString();
    navigate(`/executions${text ? `?${text}` : ""}`, { replace: true });
  };
  return { filters, set };
}

export default function ExecutionList() {
  const { filters, set } = useFilters();
  const sinceMs = SINCE.find(([key]) => key === filters.since)?.[2] ?? 0;
  // The window starts when the filter is chosen (to the minute), so the query keeps one key while it is on.
  const createdAfter = useMemo(() => (sinceMs ? new Date(Math.floor((Date.now() - sinceMs) / 60_000) * 60_000).toISOString() : undefined), [sinceMs]);
  const server = {
    agentId: filters.agentId || undefined,
    status: EXECUTION_STATUSES.find((s) => s === filters.status),
    triggerType: TRIGGER_TYPES.find((t) => t === filters.trigger),
    createdAfter,
  };
  const agents = useQuery({ queryKey: ["agents", "all"], queryFn: ({ signal }) => ok(sdk.api.GET("/api/agents", { params: { query: { limit: 100 } }, signal })) });
  const names = useMemo(() => new Map((agents.data?.data ?? []).map((a) => [a.id, a.name])), [agents.data]);
  // The newest page follows the stream (live.ts), with a slow read as a safety net for a change
  // the stream missed; older pages load as the list scrolls.
  const live = useExecutionChanges(server.agentId);
  const head = useQuery({
    queryKey: ["executions", "head", server],
    queryFn: ({ signal }) => ok(sdk.api.GET("/api/executions", { params: { query: { limit: PAGE, offset: 0, ...server } }, signal })),
    refetchInterval: 30_000,
  });
  const older = useInfiniteQuery({
    queryKey: ["executions", "older", server],
    // Older pages go by cursor from the newest page's last row (keyset: a deep page costs what
    // the first does, and rows arriving at the top shift nothing below).
    initialPageParam: head.data?.pagination.nextCursor ?? "",
    queryFn: ({ pageParam, signal }) => ok(sdk.api.GET("/api/executions", { params: { query: { limit: PAGE, cursor: pageParam, ...server } }, signal })),
    getNextPageParam: (last) => last.pagination.nextCursor ?? undefined,
    enabled: head.data?.pagination.hasMore === true && Boolean(head.data.pagination.nextCursor),
  });
  const rows = useMemo(() => {
    const seen = new Set<string>();
    const all: Execution[] = [];
    for (const e of [...(head.data?.data ?? []), ...(older.data?.pages.flatMap((p) => p.data) ?? [])]) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      all.push(e);
    }
    return all;
  }, [head.data, older.data]);
  const total = head.data?.pagination.total ?? 0;
  const canLoadMore = (head.data?.pagination.hasMore ?? false) && older.hasNextPage !== false;

  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 10 });
  const items = virtual.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;
  useEffect(() => {
    if (canLoadMore && !older.isFetchingNextPage && lastIndex >= rows.length - 20) void older.fetchNextPage();
  }, [lastIndex, rows.length, canLoadMore, older]);

  return (
    <section>
      <PageHeader title="Executions" />
      <div className="filters" role="search" aria-label="Filter executions">
        <label>
          Agent{" "}
          <select value={filters.agentId} onChange={(e) => set("agentId", e.target.value)}>
            <option value="">All agents</option>
            {(agents.data?.data ?? []).map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status{" "}
          <select value={filters.status} onChange={(e) => set("status", e.target.value)}>
            <option value="">Any</option>
            {EXECUTION_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
        <label>
          Trigger{" "}
          <select value={filters.trigger} onChange={(e) => set("trigger", e.target.value)}>
            <option value="">Any</option>
            {TRIGGER_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          Time{" "}
          <select value={filters.since} onChange={(e) => set("since", e.target.value)}>
            {SINCE.map(([key, label]) => (
              <option key={key} value={key}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {head.isPending ? <Loading what="Loading executions" /> : null}
      {head.isError ? <ErrorNotice error={head.error} retry={() => void head.refetch()} /> : null}
      {head.data && rows.length === 0 ? (
        <EmptyState title={Object.values(filters).every((value) => !value) ? "No executions yet." : "No executions match these filters."}>
          <p>
            Executions appear here as they start: run an agent from <Link to="/agents">its page</Link>, or send a delivery to one of its webhook triggers.
          </p>
        </EmptyState>
      ) : null}
      {rows.length > 0 ? (
        <>
          <p className="hint" aria-live="polite">
            {total.toLocaleString()} {total === 1 ? "execution" : "executions"}. {live ? "Updates live." : "Reconnecting to live updates…"}
          </p>
          <div className="vtable" role="table" aria-label="Executions" aria-rowcount={rows.length + 1}>
            <div className="vrow vhead" role="row" aria-rowindex={1}>
              {["Execution", "Agent", "Status", "Trigger", "Started", "Duration", "Tokens", "Cost"].map((h) => (
                <span key={h} role="columnheader">
                  {h}
                </span>
              ))}
            </div>
            <div ref={scroller} className="vbody" role="rowgroup">
              <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
                {items.map((item) => {
                  const e = rows[item.index];
                  if (!e) return null;
                  return (
                    <div key={e.id} className="vrow" role="row" aria-rowindex={item.index + 2} style={{ position: "absolute", top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${item.start}px)` }}>
                      <span role="cell">
                        <Link to={`/executions/${e.id}`}>{shortId(e.id)}</Link>
                      </span>
                      <span role="cell">{names.get(e.agentId) ?? shortId(e.agentId)}</span>
                      <span role="cell">
                        <StatusBadge status={e.status} />
                      </span>
                      <span role="cell">{e.trigger.type}</span>
                      <span role="cell">{formatTime(e.startedAt ?? e.createdAt)}</span>
                      <span role="cell">{formatDuration(e.durationMs)}</span>
                      <span role="cell">{e.usage.totalTokens}</span>
                      <span role="cell">{formatCost(e.usage.costUsd)}</span>
                    </div>
                  );
                })}
              </div>
            </div>
          </div>
          {older.isFetchingNextPage ? <Loading what="Loading older executions" /> : null}
          {older.isError ? <ErrorNotice error={older.error} retry={() => void older.fetchNextPage()} /> : null}
        </>
      ) : null}
    </section>
  );
}
