import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ok } from "@galaxy/sdk";
import { galaxy, sdk } from "../../api/galaxy";
import { PROJECTIONS, type ProjectionName, type ReplayRun } from "../../api/types";
import { EmptyState, ErrorNotice, Loading, StatusBadge } from "../../ui/feedback";
import { FormError, SelectField, TextField } from "../../ui/form";
import { formatTime, shortId } from "../../ui/format";

interface ReplayForm {
  target: ProjectionName;
  workspaceId: string;
  subject: string;
  since: string;
  reset: boolean;
}

function bodyOf(form: ReplayForm, dryRun: boolean): Record<string, unknown> {
  return {
    target: form.target,
    dryRun,
    reset: dryRun ? false : form.reset,
    ...(form.workspaceId ? { workspaceId: form.workspaceId } : {}),
    ...(form.subject ? { subject: form.subject } : {}),
    ...(form.since ? { since: new Date(form.since).toISOString() } : {}),
  };
}

function Progress({ run }: { run: ReplayRun }) {
  const total = run.matched || 1;
  const done = run.applied + run.skipped + run.failed;
  return (
    <div>
      <progress max={total} value={Math.min(done, total)} aria-label={`Replay ${shortId(run.id)} progress`} />{" "}
      {run.matched} matched · {run.applied} applied · {run.skipped} skipped · {run.failed} failed
      {run.status === "running" ? ` · ${run.rate.toFixed(0)}/s${run.etaSeconds !== null ? ` · ${run.etaSeconds}s left` : ""}` : ""}
    </div>
  );
}

export function Replays() {
  const client = useQueryClient();
  const [form, setForm] = useState<ReplayForm>({ target: "audit", workspaceId: "", subject: "", since: "", reset: false });
  const [previewed, setPreviewed] = useState<string | null>(null);
  const replays = useQuery({
    queryKey: ["replays"],
    queryFn: ({ signal }) => ok(sdk.api.GET("/api/admin/replays", { params: { query: { limit: 20 } }, signal })),
    refetchInterval: (query) => (query.state.data?.data.some((r) => r.status === "running") ? 1_000 : 5_000),
  });
  const start = useMutation({
    mutationFn: (dryRun: boolean) => galaxy.data<{ id: string }>("/api/admin/replays", { method: "POST", body: bodyOf(form, dryRun), idempotent: true }),
    onSuccess: (accepted, dryRun) => {
      if (dryRun) setPreviewed(accepted.id);
      void client.invalidateQueries({ queryKey: ["replays"] });
    },
  });
  const cancel = useMutation({ mutationFn: (id: string) => ok(sdk.api.POST("/api/admin/replays/{id}/cancel", { params: { path: { id } } })), onSuccess: () => void client.invalidateQueries({ queryKey: ["replays"] }) });
  const preview = replays.data?.data.find((r) => r.id === previewed);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate(true);
  };
  const set = <K extends keyof ReplayForm>(key: K, value: ReplayForm[K]) => {
    setForm({ ...form, [key]: value });
    setPreviewed(null);
  };
  return (
    <div>
      <form onSubmit={submit} noValidate className="card" aria-label="Start a replay">
        <h2>Start a replay</h2>
        <p className="hint">A dry run first: it reads what the replay would read and changes nothing. Then run it for real.</p>
        <div className="row">
          <SelectField label="Target projection" name="target" value={form.target} onChange={(e) => set("target", e.target.value as ProjectionName)} error={start.error} options={PROJECTIONS.map((p) => [p, p] as const)} />
          <TextField label="Workspace id (optional)" name="workspaceId" value={form.workspaceId} onChange={(e) => set("workspaceId", e.target.value)} error={start.error} />
        </div>
        <div className="row">
          <TextField label="Subject filter (optional)" name="subject" placeholder="evt.>" value={form.subject} onChange={(e) => set("subject", e.target.value)} error={start.error} />
          <TextField label="Since (optional)" name="since" type="datetime-local" value={form.since} onChange={(e) => set("since", e.target.value)} error={start.error} />
        </div>
        <label className="check">
          <input type="checkbox" checked={form.reset} onChange={(e) => set("reset", e.target.checked)} /> Reset the projection first (rebuilds it from the events)
        </label>
        <FormError error={start.error} />
        <div className="actions">
          <button type="submit" disabled={start.isPending}>
            Preview (dry run)
          </button>
          <button type="button" className="primary" disabled={start.isPending || !preview || preview.status !== "completed"} onClick={() => window.confirm("Run this replay for real?") && start.mutate(false)}>
            Run for real
          </button>
        </div>
        {preview ? (
          <div role="status" data-testid="dry-run-result">
            Dry run <StatusBadge status={preview.status} />: <Progress run={preview} />
          </div>
        ) : null}
      </form>
      <h2>Replays</h2>
      {replays.isPending ? <Loading what="Loading replays" /> : null}
      {replays.isError ? <ErrorNotice error={replays.error} /> : null}
      {cancel.isError ? <ErrorNotice error={cancel.error} /> : null}
      {replays.data && replays.data.data.length === 0 ? <EmptyState title="No replays yet.">Preview one above.</EmptyState> : null}
      <ul className="plain cards">
        {(replays.data?.data ?? []).map((r) => (
          <li key={r.id} className="card">
            <strong>{r.target}</strong> <code>{shortId(r.id)}</code> <StatusBadge status={r.status} /> {r.dryRun ? <span className="badge muted">dry run</span> : null} · {r.subject} · {formatTime(r.createdAt)}
            <Progress run={r} />
            {r.error ? <p className="field-error">{r.error}</p> : null}
            {r.status === "running" ? (
              <button type="button" onClick={() => cancel.mutate(r.id)}>
                Cancel
              </button>
            ) : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
