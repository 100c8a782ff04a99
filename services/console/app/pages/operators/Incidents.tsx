import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { AuditEntry } from "../../api/types";
import { EmptyState, ErrorNotice, Loading } from "../../ui/feedback";
import { formatTime, shortId } from "../../ui/format";
import { Pager } from "../../ui/Pager";

export function Incidents() {
  const [offset, setOffset] = useState(0);
  const incidents = useQuery({ queryKey: ["incidents", offset], queryFn: ({ signal }) => ok(sdk.api.GET("/api/admin/security-incidents", { params: { query: { limit: 50, offset } }, signal })), refetchInterval: 10_000 });
  if (incidents.isPending) return <Loading what="Loading incidents" />;
  if (incidents.isError) return <ErrorNotice error={incidents.error} />;
  if (incidents.data.data.length === 0) return <EmptyState title="No security incidents.">Cross-workspace attempts and forged claims appear here.</EmptyState>;
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">Security incidents, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Workspace</th>
            <th scope="col">Actor</th>
            <th scope="col">Resource</th>
            <th scope="col">From</th>
          </tr>
        </thead>
        <tbody>
          {incidents.data.data.map((e) => (
            <tr key={e.id}>
              <td>{formatTime(e.occurredAt)}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                <code title={e.workspaceId}>{shortId(e.workspaceId)}</code>
              </td>
              <td>
                {e.actor.type} <code title={e.actor.id}>{shortId(e.actor.id)}</code>
              </td>
              <td>
                {e.resourceType} {e.resourceId ? <code title={e.resourceId}>{shortId(e.resourceId)}</code> : null}
              </td>
              <td>
                {e.ipAddress ?? "—"} {e.userAgent ? `· ${e.userAgent}` : ""}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager page={incidents.data} offset={offset} onOffset={setOffset} />
    </div>
  );
}
