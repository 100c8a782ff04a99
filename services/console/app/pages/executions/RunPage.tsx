import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { ok } from "@galaxy/sdk";
import { isClientError } from "../../api/client";
import { galaxy, sdk } from "../../api/galaxy";
import { streamExecutionEvents } from "../../api/sse";
import { TERMINAL, type Agent, type CallbackDelivery, type Execution } from "../../api/types";
import { Link } from "../../router";
import { ErrorNotice, Loading, PageHeader, StatusBadge } from "../../ui/feedback";
import { formatCost, formatDuration, formatTime, json, shortId } from "../../ui/format";
import { applyFrame, EMPTY_RUN, type RunState } from "./run-state";
import { StepTimeline } from "./StepTimeline";

/** Follows the execution's event stream while the page is open. */
function useRunStream(executionId: string): { run: RunState; streamError: unknown } {
  const client = useQueryClient();
  const [run, setRun] = useState<RunState>(EMPTY_RUN);
  const [streamError, setStreamError] = useState<unknown>(null);
  useEffect(() => {
    const controller = new AbortController();
    setRun(EMPTY_RUN);
    streamExecutionEvents(
      galaxy,
      executionId,
      (frame) =>
        setRun((state) => {
          const next = applyFrame(state, frame);
          if (next.finished && next.finished !== state.finished) client.setQueryData(["execution", executionId], next.finished);
          return next;
        }),
      controller.signal,
    ).catch((error: unknown) => setStreamError(error));
    return () => controller.abort();
  }, [executionId, client]);
  return { run, streamError };
}

/** The completion callback's attempts: asked again while the run goes on or an attempt is due. */
function Deliveries({ executionId, ended }: { executionId: string; ended: boolean }) {
  const deliveries = useQuery({
    // Asked afresh when the run ends: its end schedules the first attempt.
    queryKey: ["execution", executionId, "deliveries", ended],
    placeholderData: keepPreviousData,
    queryFn: ({ signal }) => ok(sdk.api.GET("/api/executions/{id}/deliveries", { params: { path: { id: executionId }, query: { limit: 50 } }, signal })),
    refetchInterval: (query) => (isClientError(query.state.error) || (ended && query.state.data?.data.every((d) => d.status !== "pending")) ? false : 5_000),
  });
  if (deliveries.isError) return <ErrorNotice error={deliveries.error} />;
  const list = deliveries.data?.data ?? [];
  if (list.length === 0) return <p className="hint">No completion callback: the agent has no callback URL, or the execution has not finished.</p>;
  return (
    <ul className="deliveries" aria-label="Completion callback attempts">
      {list.map((d) => (
        <li key={d.attempt}>
          Attempt {d.attempt}: <StatusBadge status={d.status} /> {d.responseStatus !== null ? `HTTP ${d.responseStatus}` : ""} · {formatTime(d.at)} · <code>{d.url}</code>
        </li>
      ))}
    </ul>
  );
}

export default function RunPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const client = useQueryClient();
  const execution = useQuery({
    queryKey: ["execution", id],
    queryFn: () => ok(sdk.api.GET("/api/executions/{id}", { params: { path: { id } } })).then((r) => r.data),
    // The stream brings the final record; polling covers a stream that cannot connect.
    // Not asked again once it ended, nor after a 4xx (no such execution, or not this workspace's).
    refetchInterval: (query) => (isClientError(query.state.error) || (query.state.data && TERMINAL.has(query.state.data.status)) ? false : 3_000),
  });
  const agentId = execution.data?.agentId;
  const agent = useQuery({ queryKey: ["agent", agentId], queryFn: () => ok(sdk.api.GET("/api/agents/{id}", { params: { path: { id: agentId ?? "" } } })).then((r) => r.data), enabled: agentId !== undefined });
  const { run, streamError } = useRunStream(id);
  const cancel = useMutation({
    mutationFn: () => ok(sdk.api.POST("/api/executions/{id}/cancel", { params: { path: { id } } })).then((r) => r.data),
    onSuccess: (e) => client.setQueryData(["execution", id], e),
  });
  if (execution.isPending) return <Loading what="Loading the execution" />;
  if (execution.isError) return <ErrorNotice error={execution.error} retry={() => void execution.refetch()} />;
  const e = run.finished ?? execution.data;
  const ended = TERMINAL.has(e.status);
  return (
    <section>
      <PageHeader title={`Execution ${shortId(e.id)}`}>
        {!ended ? (
          <button type="button" className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Cancel
          </button>
        ) : null}
      </PageHeader>
      {cancel.isError ? <ErrorNotice error={cancel.error} /> : null}
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd aria-live="polite" data-testid="run-status">
            <StatusBadge status={e.status} />
          </dd>
        </div>
        <div>
          <dt>Agent</dt>
          <dd>
            <Link to={`/agents/${e.agentId}`}>{agent.data?.name ?? shortId(e.agentId)}</Link> v{e.agentVersion}
          </dd>
        </div>
        <div>
          <dt>Trigger</dt>
          <dd>{e.trigger.type}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatTime(e.startedAt)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(e.durationMs)}</dd>
        </div>
        <div>
          <dt>Tokens</dt>
          <dd>
            {e.usage.inputTokens} in · {e.usage.outputTokens} out
          </dd>
        </div>
        <div>
          <dt>Cost</dt>
          <dd>{formatCost(e.usage.costUsd)}</dd>
        </div>
      </dl>
      {e.error ? (
        <div className="notice error" role="alert">
          <p>
            {e.error.message} <code>{e.error.code}</code>
          </p>
        </div>
      ) : null}
      <div className="run-grid">
        <section aria-labelledby="output-heading">
          <h2 id="output-heading">{ended ? "Output" : "Live output"}</h2>
          <pre className="output" aria-live={ended ? "off" : "polite"} data-testid="run-output">
            {e.output?.text ?? (run.liveText || (ended ? "(no output)" : "Waiting for the model…"))}
          </pre>
          {e.output?.json !== undefined ? <pre className="output">{json(e.output.json)}</pre> : null}
          <h2>Input</h2>
          <pre className="output">{json(e.input)}</pre>
        </section>
        <section aria-labelledby="steps-heading">
          <h2 id="steps-heading">Steps</h2>
          {streamError ? <ErrorNotice error={streamError} /> : null}
          <StepTimeline steps={run.steps} running={!ended} />
        </section>
      </div>
      <h2>Completion callbacks</h2>
      <Deliveries executionId={e.id} ended={ended} />
    </section>
  );
}
