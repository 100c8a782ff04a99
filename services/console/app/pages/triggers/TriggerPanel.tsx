import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ApiError } from "../../api/client";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { Agent, Trigger } from "../../api/types";
import { EmptyState, ErrorNotice, Loading } from "../../ui/feedback";
import { FormError, SecretOnce, TextArea, TextField } from "../../ui/form";
import { shortId } from "../../ui/format";
import { exampleBody, hookUrl, signedCurl } from "./curl";
import { NextRuns } from "./NextRuns";
import { RecentDeliveries } from "./RecentDeliveries";

function TriggerCard({ trigger, onSecret }: { trigger: Trigger; onSecret: (t: Trigger) => void }) {
  const client = useQueryClient();
  const rotate = useMutation({
    mutationFn: () => ok(sdk.api.POST("/api/agents/{id}/triggers/{triggerId}/rotate-secret", { params: { path: { id: trigger.agentId, triggerId: trigger.id } } })).then((r) => r.data),
    onSuccess: onSecret,
  });
  const remove = useMutation({
    mutationFn: () => ok(sdk.api.DELETE("/api/agents/{id}/triggers/{triggerId}", { params: { path: { id: trigger.agentId, triggerId: trigger.id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["triggers"] }),
  });
  return (
    <article className="card" aria-label={`${trigger.type} trigger ${shortId(trigger.id)}`}>
      <header className="card-head">
        <h3>
          {trigger.type === "webhook" ? "Webhook" : "Schedule"} <code>{shortId(trigger.id)}</code>
        </h3>
        <div className="actions">
          {trigger.type === "webhook" ? (
            <button type="button" onClick={() => rotate.mutate()} disabled={rotate.isPending}>
              Rotate secret
            </button>
          ) : null}
          <button type="button" className="danger" onClick={() => window.confirm("Delete this trigger?") && remove.mutate()} disabled={remove.isPending}>
            Delete
          </button>
        </div>
      </header>
      {trigger.type === "webhook" ? (
        <p>
          Deliveries go to <code>{hookUrl(trigger.url)}</code>
        </p>
      ) : (
        <>
          <p>
            Runs on <code>{trigger.cron}</code> ({trigger.timezone ?? "UTC"}) with input <code>{JSON.stringify(trigger.input)}</code>
          </p>
          <NextRuns trigger={trigger} />
        </>
      )}
      {rotate.isError ? <ErrorNotice error={rotate.error} /> : null}
      {remove.isError ? <ErrorNotice error={remove.error} /> : null}
      <h4>{trigger.type === "webhook" ? "Recent deliveries" : "Recent runs"}</h4>
      <RecentDeliveries trigger={trigger} />
    </article>
  );
}

function NewSchedule({ agent }: { agent: Agent }) {
  const client = useQueryClient();
  const [cron, setCron] = useState("*/5 * * * *");
  const [timezone, setTimezone] = useState("UTC");
  // An agent with an inputSchema refuses a schedule whose input fails it: start from one that passes.
  const [input, setInput] = useState(agent.inputSchema ? exampleBody(agent.inputSchema, "hello from a schedule") : "");
  const create = useMutation({
    mutationFn: () => {
      let parsed: unknown = null;
      try {
        parsed = input.trim() ? JSON.parse(input) : null;
      } catch {
        throw new ApiError(400, "validation_failed", "Fix the fields marked below", { input: "is not valid JSON" });
      }
      return ok(sdk.api.POST("/api/agents/{id}/triggers", { params: { path: { id: agent.id } }, body: { type: "schedule", cron, timezone, input: parsed } })).then((r) => r.data);
    },
    onSuccess: () => void client.invalidateQueries({ queryKey: ["triggers"] }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <form onSubmit={submit} noValidate aria-label="New schedule" className="inline-form">
      <TextField label="Cron" name="cron" value={cron} onChange={(e) => setCron(e.target.value)} error={create.error} hint="5 fields, or 6 with seconds first." />
      <TextField label="Time zone" name="timezone" value={timezone} onChange={(e) => setTimezone(e.target.value)} error={create.error} />
      <TextArea label="Input (JSON)" name="input" rows={2} value={input} onChange={(e) => setInput(e.target.value)} error={create.error} />
      <FormError error={create.error} />
      <button type="submit" disabled={create.isPending}>
        Add schedule
      </button>
    </form>
  );
}

/** An agent's webhook triggers and schedules. */
export function TriggerPanel({ agent }: { agent: Agent }) {
  const client = useQueryClient();
  const [secret, setSecret] = useState<Trigger | null>(null);
  const triggers = useQuery({
    queryKey: ["triggers", agent.id],
    queryFn: ({ signal }) => ok(sdk.api.GET("/api/agents/{id}/triggers", { params: { path: { id: agent.id }, query: { limit: 100 } }, signal })),
    // Schedules' next runs move on as time passes.
    refetchInterval: 30_000,
  });
  const createWebhook = useMutation({
    mutationFn: () => ok(sdk.api.POST("/api/agents/{id}/triggers", { params: { path: { id: agent.id } }, body: { type: "webhook" } })).then((r) => r.data),
    onSuccess: (trigger) => {
      setSecret(trigger);
      void client.invalidateQueries({ queryKey: ["triggers"] });
    },
  });
  return (
    <div>
      <div className="actions">
        <button type="button" className="primary" onClick={() => createWebhook.mutate()} disabled={createWebhook.isPending}>
          New webhook trigger
        </button>
      </div>
      {createWebhook.isError ? <ErrorNotice error={createWebhook.error} /> : null}
      {secret?.secret ? (
        <div className="card">
          <SecretOnce label="Signing secret" value={secret.secret} />
          <p>Sign each delivery with it (Standard Webhooks). This example sends one:</p>
          <pre className="copyable" aria-label="Signed curl example">{signedCurl(hookUrl(secret.url), secret.secret, exampleBody(agent.inputSchema))}</pre>
          <button type="button" onClick={() => setSecret(null)}>
            I have copied it
          </button>
        </div>
      ) : null}
      {triggers.isPending ? <Loading what="Loading triggers" /> : null}
      {triggers.isError ? <ErrorNotice error={triggers.error} /> : null}
      {triggers.data && triggers.data.data.length === 0 ? (
        <EmptyState title="No triggers yet.">
          <p>A webhook trigger runs this agent on each signed POST; a schedule runs it on a cron expression.</p>
        </EmptyState>
      ) : null}
      {triggers.data?.data.map((t) => <TriggerCard key={t.id} trigger={t} onSecret={setSecret} />)}
      <h3>New schedule</h3>
      <NewSchedule agent={agent} />
    </div>
  );
}
