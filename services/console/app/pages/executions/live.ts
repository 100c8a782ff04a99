import { useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { Page } from "../../api/client";
import { galaxy } from "../../api/galaxy";
import { followExecutionChanges } from "../../api/sse";
import { EXECUTION_STATUSES, type Execution, type ExecutionChange } from "../../api/types";

/** A frame's change, when it is one: the fields the list applies are checked, the rest is the API's (docs/api.md, The event stream). */
function changeOf(data: string): ExecutionChange | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { executionId, status, execution } = value as Record<string, unknown>;
  const known = EXECUTION_STATUSES.some((s) => s === status);
  return typeof executionId === "string" && known && (execution === null || typeof execution === "object") ? (value as ExecutionChange) : undefined;
}

function patch(rows: Execution[], change: ExecutionChange): Execution[] {
  return rows.map((row) => (row.id !== change.executionId ? row : { ...row, ...(change.execution ?? {}), status: change.status }));
}

/**
 * Keeps the executions list live from `GET /api/executions/stream`: a row already shown takes
 * its new status at once, and the newest page is read again (at most twice a second) for rows
 * that appeared or left its filters; each (re)connection reads it again too. Answers whether
 * the stream is up.
 */
export function useExecutionChanges(agentId: string | undefined): boolean {
  const client = useQueryClient();
  const [live, setLive] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    let pending: ReturnType<typeof setTimeout> | undefined;
    const refreshHead = () => {
      pending ??= setTimeout(() => {
        pending = undefined;
        void client.invalidateQueries({ queryKey: ["executions", "head"] });
      }, 500);
    };
    const onFrame = (frame: { event: string; data: string }) => {
      if (frame.event === "ready") return refreshHead();
      if (!frame.event.startsWith("execution.")) return;
      const change = changeOf(frame.data);
      if (!change) return;
      client.setQueriesData<Page<Execution>>({ queryKey: ["executions", "head"] }, (page) => (page ? { ...page, data: patch(page.data, change) } : page));
      client.setQueriesData<InfiniteData<Page<Execution>>>({ queryKey: ["executions", "older"] }, (data) =>
        data ? { ...data, pages: data.pages.map((page) => ({ ...page, data: patch(page.data, change) })) } : data,
      );
      refreshHead();
    };
    followExecutionChanges(galaxy, { agentId }, onFrame, setLive, abort.signal).catch(() => setLive(false));
    return () => {
      abort.abort();
      clearTimeout(pending);
    };
  }, [agentId, client]);
  return live;
}
