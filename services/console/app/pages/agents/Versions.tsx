import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { Agent, AgentConfig, AgentVersion } from "../../api/types";
import { ErrorNotice, Loading } from "../../ui/feedback";
import { formatTime, json } from "../../ui/format";

const KEYS: Array<keyof AgentConfig> = ["name", "description", "provider", "model", "systemPrompt", "temperature", "maxTokens", "tools", "knowledgeBaseIds", "inputSchema", "outputSchema", "timeoutMs", "notifyUrl"];

const show = (value: unknown) => (typeof value === "string" ? value : json(value));

/** An agent's versions, two of them side by side with what differs marked. */
export function Versions({ agent }: { agent: Agent }) {
  const versions = useQuery({ queryKey: ["agent", agent.id, "versions"], queryFn: ({ signal }) => ok(sdk.api.GET("/api/agents/{id}/versions", { params: { path: { id: agent.id }, query: { limit: 100 } }, signal })) });
  const [left, setLeft] = useState(Math.max(1, agent.version - 1));
  const [right, setRight] = useState(agent.version);
  if (versions.isPending) return <Loading what="Loading versions" />;
  if (versions.isError) return <ErrorNotice error={versions.error} />;
  const list = versions.data.data;
  const a = list.find((v) => v.version === left);
  const b = list.find((v) => v.version === right);
  const picker = (label: string, value: number, onChange: (v: number) => void) => (
    <label>
      {label}{" "}
      <select value={value} onChange={(e) => onChange(Number(e.target.value))}>
        {list.map((v) => (
          <option key={v.version} value={v.version}>
            v{v.version} · {formatTime(v.createdAt)}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div>
      {list.length === 1 ? <p className="hint">Only one version so far: each saved edit makes a new one, and running executions keep theirs.</p> : null}
      <div className="filters">
        {picker("Compare", left, setLeft)}
        {picker("with", right, setRight)}
      </div>
      <div className="table-wrap">
        <table className="compare">
          <caption className="visually-hidden">Versions side by side</caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">v{left}</th>
              <th scope="col">v{right}</th>
            </tr>
          </thead>
          <tbody>
            {KEYS.map((key) => {
              const before = a ? show(a.config[key]) : "—";
              const after = b ? show(b.config[key]) : "—";
              return (
                <tr key={key} className={before !== after ? "changed" : undefined}>
                  <th scope="row">
                    {key}
                    {before !== after ? <span className="visually-hidden"> (changed)</span> : null}
                  </th>
                  <td>
                    <pre>{before}</pre>
                  </td>
                  <td>
                    <pre>{after}</pre>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
