import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import { AGENT_STATUSES, type Agent } from "../../api/types";
import { Link } from "../../router";
import { EmptyState, ErrorNotice, Loading, PageHeader, StatusBadge } from "../../ui/feedback";
import { formatTime } from "../../ui/format";
import { Pager } from "../../ui/Pager";

export default function AgentList() {
  const [offset, setOffset] = useState(0);
  const [status, setStatus] = useState("");
  const agents = useQuery({ queryKey: ["agents", { offset, status }], queryFn: ({ signal }) => ok(sdk.api.GET("/api/agents", { params: { query: { limit: 50, offset, status: AGENT_STATUSES.find((s) => s === status) } }, signal })) });
  return (
    <section>
      <PageHeader title="Agents">
        <Link to="/agents/new" className="button primary">
          New agent
        </Link>
      </PageHeader>
      <div className="filters">
        <label>
          Status{" "}
          <select value={status} onChange={(e) => { setStatus(e.target.value); setOffset(0); }}>
            <option value="">Any</option>
            <option value="draft">Draft</option>
            <option value="active">Active</option>
            <option value="paused">Paused</option>
          </select>
        </label>
      </div>
      {agents.isPending ? <Loading what="Loading agents" /> : null}
      {agents.isError ? <ErrorNotice error={agents.error} retry={() => void agents.refetch()} /> : null}
      {agents.data && agents.data.data.length === 0 ? (
        <EmptyState title={status ? `No ${status} agents.` : "No agents yet."}>
          <p>An agent is a model with a prompt, tools and knowledge. Create one, activate it, and run it from its page.</p>
          <Link to="/agents/new" className="button primary">
            Create your first agent
          </Link>
        </EmptyState>
      ) : null}
      {agents.data && agents.data.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Agents of this workspace</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Version</th>
                <th scope="col">Model</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {agents.data.data.map((agent) => (
                <tr key={agent.id}>
                  <td>
                    <Link to={`/agents/${agent.id}`}>{agent.name}</Link>
                  </td>
                  <td>
                    <StatusBadge status={agent.status} />
                  </td>
                  <td>v{agent.version}</td>
                  <td>
                    {agent.provider} · {agent.model}
                  </td>
                  <td>{formatTime(agent.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager page={agents.data} offset={offset} onOffset={setOffset} />
    </section>
  );
}
