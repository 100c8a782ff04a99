import { useQuery } from "@tanstack/react-query";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { Execution, Trigger, TriggerDelivery } from "../../api/types";
import { Link } from "../../router";
import { ErrorNotice, StatusBadge } from "../../ui/feedback";
import { formatTime, shortId } from "../../ui/format";

/** Why a delivery was refused, in plain words, by the API's error code (docs/errors.md). */
const REFUSALS: Record<string, string> = {
  invalid_webhook_signature: "bad signature",
  missing_webhook_signature: "unsigned",
  invalid_webhook_timestamp: "bad timestamp",
  webhook_timestamp_out_of_range: "timestamp out of tolerance",
  payload_too_large: "payload too large",
  unsupported_media_type: "not JSON (content type)",
  malformed_json: "body not valid JSON",
  invalid_value: "body cannot be stored",
  input_invalid: "body fails the agent's input schema",
  input_schema_unusable: "the agent's input schema cannot be used",
  message_too_large: "too large for the event bus",
  agent_not_active: "agent not active",
  webhook_rate_limited: "rate limited",
  service_unavailable: "Galaxy unavailable; the sender retries",
};

function DeliveryItem({ delivery }: { delivery: TriggerDelivery }) {
  if (delivery.outcome === "refused") {
    return (
      <li>
        <StatusBadge status="refused" /> {REFUSALS[delivery.code ?? ""] ?? delivery.code} <code>{delivery.httpStatus}</code> · {formatTime(delivery.receivedAt)}
      </li>
    );
  }
  return (
    <li>
      <StatusBadge status={delivery.executionStatus ?? "queued"} /> {delivery.executionId ? <Link to={`/executions/${delivery.executionId}`}>{shortId(delivery.executionId)}</Link> : null} ·{" "}
      {formatTime(delivery.receivedAt)}
    </li>
  );
}

/** A webhook trigger's recent deliveries, accepted and refused, newest first. */
function WebhookDeliveries({ trigger }: { trigger: Trigger }) {
  const list = useQuery({
    queryKey: ["triggers", trigger.id, "deliveries"],
    queryFn: ({ signal }) => ok(sdk.api.GET("/api/triggers/{id}/deliveries", { params: { path: { id: trigger.id }, query: { limit: 10 } }, signal })),
    refetchInterval: 3_000,
  });
  if (list.isError) return <ErrorNotice error={list.error} />;
  const deliveries = list.data?.data ?? [];
  if (deliveries.length === 0) return <p className="hint">No deliveries yet. Send one with the example above.</p>;
  return (
    <ul className="deliveries" aria-label="Recent deliveries">
      {deliveries.map((d) => (
        <DeliveryItem key={d.seq} delivery={d} />
      ))}
    </ul>
  );
}

/** The executions a schedule started, newest first. */
function ScheduleRuns({ trigger }: { trigger: Trigger }) {
  const runs = useQuery({
    queryKey: ["executions", "agent", trigger.agentId, "schedule"],
    queryFn: ({ signal }) => ok(sdk.api.GET("/api/agents/{id}/executions", { params: { path: { id: trigger.agentId }, query: { limit: 100, triggerType: "schedule" } }, signal })),
    refetchInterval: 3_000,
  });
  const mine = (runs.data?.data ?? []).filter((e) => e.trigger.id === trigger.id).slice(0, 10);
  if (runs.isError) return <ErrorNotice error={runs.error} />;
  if (mine.length === 0) return <p className="hint">No runs yet.</p>;
  return (
    <ul className="deliveries" aria-label="Recent runs">
      {mine.map((e) => (
        <li key={e.id}>
          <StatusBadge status={e.status} /> <Link to={`/executions/${e.id}`}>{shortId(e.id)}</Link> · {formatTime(e.createdAt)}
        </li>
      ))}
    </ul>
  );
}

export function RecentDeliveries({ trigger }: { trigger: Trigger }) {
  return trigger.type === "webhook" ? <WebhookDeliveries trigger={trigger} /> : <ScheduleRuns trigger={trigger} />;
}
