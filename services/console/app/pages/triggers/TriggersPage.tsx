import { useQuery } from "@tanstack/react-query";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { Agent } from "../../api/types";
import { Link } from "../../router";
import { EmptyState, ErrorNotice, Loading, PageHeader } from "../../ui/feedback";
import { TriggerPanel } from "./TriggerPanel";

/** Every agent's triggers on one page (triggers belong to agents). */
export default function TriggersPage() {
  const agents = useQuery({ queryKey: ["agents", "all"], queryFn: ({ signal }) => ok(sdk.api.GET("/api/agents", { params: { query: { limit: 100 } }, signal })) });
  return (
    <section>
      <PageHeader title="Triggers" />
      {agents.isPending ? <Loading what="Loading agents" /> : null}
      {agents.isError ? <ErrorNotice error={agents.error} /> : null}
      {agents.data && agents.data.data.length === 0 ? (
        <EmptyState title="No agents yet.">
          <p>Triggers start an agent's executions. <Link to="/agents/new">Create an agent</Link> first.</p>
        </EmptyState>
      ) : null}
      {agents.data?.data.map((agent) => (
        <section key={agent.id} className="group" aria-labelledby={`agent-${agent.id}`}>
          <h2 id={`agent-${agent.id}`}>
            <Link to={`/agents/${agent.id}`}>{agent.name}</Link>
          </h2>
          <TriggerPanel agent={agent} />
        </section>
      ))}
    </section>
  );
}
