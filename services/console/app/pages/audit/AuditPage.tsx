import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ok } from "@galaxy/sdk";
import { galaxy, sdk } from "../../api/galaxy";
import type { AuditEntry, AuditVerification } from "../../api/types";
import { EmptyState, ErrorNotice, Loading, PageHeader } from "../../ui/feedback";
import { formatTime, json, shortId } from "../../ui/format";
import { Pager } from "../../ui/Pager";

const FILTERS = [
  ["action", "Action", "agent.created"],
  ["resourceType", "Resource type", "agent"],
  ["resourceId", "Resource id", ""],
  ["actorId", "Actor id", ""],
] as const;
type FilterKey = (typeof FILTERS)[number][0];

function Verify() {
  const verify = useMutation({ mutationFn: () => ok(sdk.api.GET("/api/audit-logs/verify")).then((r) => r.data) });
  const result = verify.data;
  return (
    <div className="card">
      <div className="card-head">
        <h2>Hash chain</h2>
        <button type="button" className="primary" onClick={() => verify.mutate()} disabled={verify.isPending}>
          {verify.isPending ? "Verifying…" : "Verify the chain"}
        </button>
      </div>
      {verify.isError ? <ErrorNotice error={verify.error} /> : null}
      {result ? (
        <p className={`verdict ${result.valid ? "ok" : "bad"}`} role="status" data-testid="audit-verdict">
          {result.valid
            ? `Intact: all ${result.entries} entries link up to the head (seq ${result.head?.seq ?? 0}).`
            : `Broken at seq ${result.firstBadSeq ?? "?"}: ${result.reason?.replaceAll("_", " ") ?? "not intact"}.`}
        </p>
      ) : (
        <p className="hint">Recomputes every entry's hash from the start (or the retention checkpoint) to the head.</p>
      )}
    </div>
  );
}

async function download(filters: Partial<Record<FilterKey, string>>) {
  const response = await galaxy.fetch("/api/audit-logs/export", { query: filters, accept: "application/x-ndjson" });
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = "audit-log.ndjson";
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export default function AuditPage() {
  const [draft, setDraft] = useState<Partial<Record<FilterKey, string>>>({});
  const [filters, setFilters] = useState<Partial<Record<FilterKey, string>>>({});
  const [offset, setOffset] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const logs = useQuery({ queryKey: ["audit", filters, offset], queryFn: ({ signal }) => ok(sdk.api.GET("/api/audit-logs", { params: { query: { limit: 50, offset, ...filters } }, signal })) });
  const exporting = useMutation({ mutationFn: () => download(filters) });
  return (
    <section>
      <PageHeader title="Audit log">
        <button type="button" onClick={() => exporting.mutate()} disabled={exporting.isPending}>
          {exporting.isPending ? "Exporting…" : "Export NDJSON"}
        </button>
      </PageHeader>
      {exporting.isError ? <ErrorNotice error={exporting.error} /> : null}
      <Verify />
      <form
        className="filters"
        role="search"
        aria-label="Filter the audit log"
        onSubmit={(event) => {
          event.preventDefault();
          setOffset(0);
          setFilters(Object.fromEntries(Object.entries(draft).filter(([, v]) => v)));
        }}
      >
        {FILTERS.map(([key, label, placeholder]) => (
          <label key={key}>
            {label}{" "}
            <input value={draft[key] ?? ""} placeholder={placeholder} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} />
          </label>
        ))}
        <button type="submit">Filter</button>
      </form>
      {logs.isPending ? <Loading what="Loading the audit log" /> : null}
      {logs.isError ? <ErrorNotice error={logs.error} retry={() => void logs.refetch()} /> : null}
      {logs.data && logs.data.data.length === 0 ? (
        <EmptyState title="No entries match.">
          <p>Every change in the workspace is recorded here as it happens; clear the filters to see them all.</p>
        </EmptyState>
      ) : null}
      {logs.data && logs.data.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Audit entries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Seq</th>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">Actor</th>
                <th scope="col">Changes</th>
              </tr>
            </thead>
            <tbody>
              {logs.data.data.map((entry) => (
                <tr key={entry.id}>
                  <td>{entry.seq}</td>
                  <td>{formatTime(entry.occurredAt)}</td>
                  <td>
                    <code>{entry.action}</code>
                  </td>
                  <td>
                    {entry.resourceType} {entry.resourceId ? <code title={entry.resourceId}>{shortId(entry.resourceId)}</code> : null}
                  </td>
                  <td>
                    {entry.actor.type} <code title={entry.actor.id}>{shortId(entry.actor.id)}</code>
                  </td>
                  <td>
                    <button type="button" className="link-button" aria-expanded={open === entry.id} onClick={() => setOpen(open === entry.id ? null : entry.id)}>
                      {open === entry.id ? "Hide" : "Show"}
                    </button>
                    {open === entry.id ? <pre>{json(entry.changes)}</pre> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager page={logs.data} offset={offset} onOffset={setOffset} />
    </section>
  );
}
