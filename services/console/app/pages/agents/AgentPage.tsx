import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { Agent } from "../../api/types";
import { Link, navigate } from "../../router";
import { ErrorNotice, Loading, PageHeader, StatusBadge } from "../../ui/feedback";
import { formatTime } from "../../ui/format";
import { TriggerPanel } from "../triggers/TriggerPanel";
import { TestRun } from "./TestRun";
import { Versions } from "./Versions";

const TABS = [
  ["run", "Test run"],
  ["versions", "Versions"],
  ["triggers", "Triggers"],
] as const;
type Tab = (typeof TABS)[number][0];

function Lifecycle({ agent }: { agent: Agent }) {
  const client = useQueryClient();
  const action = useMutation({
    mutationFn: async (what: "activate" | "pause" | "delete") => {
      if (what === "delete") return ok(sdk.api.DELETE("/api/agents/{id}", { params: { path: { id: agent.id } } }));
      return ok(sdk.api.POST(what === "activate" ? "/api/agents/{id}/activate" : "/api/agents/{id}/pause", { params: { path: { id: agent.id } } })).then((r) => r.data);
    },
    onSuccess: (_result, what) => {
      void client.invalidateQueries({ queryKey: ["agents"] });
      if (what === "delete") navigate("/agents");
      else void client.invalidateQueries({ queryKey: ["agent", agent.id] });
    },
  });
  const remove = () => {
    if (window.confirm(`Delete ${agent.name}? It stops running and disappears everywhere.`)) action.mutate("delete");
  };
  return (
    <>
      <Link to={`/agents/${agent.id}/edit`} className="button">
        Edit
      </Link>
      {agent.status === "active" ? (
        <button type="button" onClick={() => action.mutate("pause")} disabled={action.isPending}>
          Pause
        </button>
      ) : (
        <button type="button" className="primary" onClick={() => action.mutate("activate")} disabled={action.isPending}>
          Activate
        </button>
      )}
      <button type="button" className="danger" onClick={remove} disabled={action.isPending}>
        Delete
      </button>
      {action.isError ? <ErrorNotice error={action.error} /> : null}
    </>
  );
}

export default function AgentPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const [tab, setTab] = useState<Tab>("run");
  const agent = useQuery({ queryKey: ["agent", id], queryFn: () => ok(sdk.api.GET("/api/agents/{id}", { params: { path: { id } } })).then((r) => r.data) });
  if (agent.isPending) return <Loading what="Loading the agent" />;
  if (agent.isError) return <ErrorNotice error={agent.error} retry={() => void agent.refetch()} />;
  const a = agent.data;
  return (
    <section>
      <PageHeader title={a.name}>
        <Lifecycle agent={a} />
      </PageHeader>
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={a.status} />
          </dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd>v{a.version}</dd>
        </div>
        <div>
          <dt>Model</dt>
          <dd>
            {a.provider} · {a.model}
          </dd>
        </div>
        <div>
          <dt>Tools</dt>
          <dd>{a.tools.length ? a.tools.map((t) => t.name).join(", ") : "none"}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>{formatTime(a.updatedAt)}</dd>
        </div>
        <div>
          <dt>Executions</dt>
          <dd>
            <Link to={`/executions?agentId=${a.id}`}>See its runs</Link>
          </dd>
        </div>
      </dl>
      {a.description ? <p>{a.description}</p> : null}
      <div role="tablist" aria-label="Agent sections" className="tabs">
        {TABS.map(([key, label]) => (
          <button key={key} type="button" role="tab" id={`tab-${key}`} aria-selected={tab === key} aria-controls={`panel-${key}`} onClick={() => setTab(key)}>
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        <h2 className="visually-hidden">{TABS.find(([key]) => key === tab)?.[1]}</h2>
        {tab === "run" ? <TestRun agent={a} /> : null}
        {tab === "versions" ? <Versions agent={a} /> : null}
        {tab === "triggers" ? <TriggerPanel agent={a} /> : null}
      </div>
    </section>
  );
}
