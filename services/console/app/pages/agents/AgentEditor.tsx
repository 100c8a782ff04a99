import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ok } from "@galaxy/sdk";
import { galaxy, sdk } from "../../api/galaxy";
import { BUILTIN_TOOLS, PROVIDERS, type Agent, type KnowledgeBase, type SavedAgent } from "../../api/types";
import { Link, navigate } from "../../router";
import { ErrorNotice, Loading, PageHeader } from "../../ui/feedback";
import { FormError, SecretOnce, SelectField, TextArea, TextField, fieldError } from "../../ui/form";
import { bodyFromForm, EMPTY_AGENT_FORM, formFromAgent, type AgentFormState } from "./agent-form";

function AgentForm({ existing }: { existing?: Agent }) {
  const client = useQueryClient();
  const [form, setForm] = useState<AgentFormState>(existing ? formFromAgent(existing) : EMPTY_AGENT_FORM);
  const [saved, setSaved] = useState<SavedAgent | null>(null);
  const bases = useQuery({ queryKey: ["knowledge-bases", "all"], queryFn: ({ signal }) => ok(sdk.api.GET("/api/knowledge-bases", { params: { query: { limit: 100 } }, signal })) });
  const save = useMutation({
    mutationFn: async () => {
      const body = bodyFromForm(form, existing);
      return existing
        ? galaxy.data<SavedAgent>(`/api/agents/${existing.id}`, { method: "PATCH", body, idempotent: true })
        : galaxy.data<SavedAgent>("/api/agents", { method: "POST", body, idempotent: true });
    },
    onSuccess: (agent) => {
      void client.invalidateQueries({ queryKey: ["agents"] });
      void client.invalidateQueries({ queryKey: ["agent", agent.id] });
      if (agent.notifySecret) setSaved(agent);
      else navigate(`/agents/${agent.id}`);
    },
  });
  const set = <K extends keyof AgentFormState>(key: K, value: AgentFormState[K]) => setForm({ ...form, [key]: value });
  const toggle = <T,>(list: T[], item: T) => (list.includes(item) ? list.filter((x) => x !== item) : [...list, item]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const error = save.error;

  if (saved?.notifySecret)
    return (
      <div>
        <SecretOnce label="Completion callback secret" value={saved.notifySecret} />
        <p>Galaxy signs each completion callback to {saved.notifyUrl} with this secret; verify the signature with it.</p>
        <Link to={`/agents/${saved.id}`} className="button primary">
          Go to the agent
        </Link>
      </div>
    );

  return (
    <form onSubmit={submit} noValidate className="agent-form">
      <fieldset>
        <legend>Basics</legend>
        <TextField label="Name" name="name" required value={form.name} onChange={(e) => set("name", e.target.value)} error={error} />
        <TextField label="Description" name="description" value={form.description} onChange={(e) => set("description", e.target.value)} error={error} />
        <div className="row">
          <SelectField label="Provider" name="provider" value={form.provider} onChange={(e) => set("provider", PROVIDERS.find((p) => p === e.target.value) ?? "openai")} error={error} options={[["openai", "OpenAI"], ["anthropic", "Anthropic"], ["google", "Google"]]} />
          <TextField label="Model" name="model" required value={form.model} onChange={(e) => set("model", e.target.value)} error={error} list="model-suggestions" hint="galaxy-dev-echo and galaxy-dev-tools run on the dev model server." />
          <datalist id="model-suggestions">
            <option value="galaxy-dev-echo" />
            <option value="galaxy-dev-tools" />
            <option value="gpt-4o-mini" />
            <option value="claude-sonnet-4-5" />
          </datalist>
        </div>
        <TextArea label="System prompt" name="systemPrompt" rows={5} value={form.systemPrompt} onChange={(e) => set("systemPrompt", e.target.value)} error={error} />
      </fieldset>
      <fieldset>
        <legend>Tools and knowledge</legend>
        <div className="checks" role="group" aria-label="Built-in tools">
          {BUILTIN_TOOLS.map((tool) => (
            <label key={tool}>
              <input type="checkbox" checked={form.builtinTools.includes(tool)} onChange={() => set("builtinTools", toggle(form.builtinTools, tool))} /> {tool}
            </label>
          ))}
        </div>
        <TextArea label="Webhook tools (JSON array)" name="tools" rows={4} value={form.webhookTools} onChange={(e) => set("webhookTools", e.target.value)} error={error} hint='[{"type":"webhook","name":"lookup","description":"…","parameters":{"type":"object"},"url":"https://…"}]' />
        {bases.isError ? <ErrorNotice error={bases.error} /> : null}
        {bases.data && bases.data.data.length > 0 ? (
          <div className="checks" role="group" aria-label="Knowledge bases">
            {bases.data.data.map((kb) => (
              <label key={kb.id}>
                <input type="checkbox" checked={form.knowledgeBaseIds.includes(kb.id)} onChange={() => set("knowledgeBaseIds", toggle(form.knowledgeBaseIds, kb.id))} /> {kb.name}
              </label>
            ))}
          </div>
        ) : (
          <p className="hint">No knowledge bases yet: create one under Knowledge to give agents your documents.</p>
        )}
        {fieldError(error, "knowledgeBaseIds") ? <p className="field-error" role="alert">{fieldError(error, "knowledgeBaseIds")}</p> : null}
      </fieldset>
      <fieldset>
        <legend>Schemas and limits</legend>
        <TextArea label="Input JSON Schema" name="inputSchema" rows={4} value={form.inputSchema} onChange={(e) => set("inputSchema", e.target.value)} error={error} hint="The test-run form is built from it." />
        <TextArea label="Output JSON Schema" name="outputSchema" rows={4} value={form.outputSchema} onChange={(e) => set("outputSchema", e.target.value)} error={error} />
        <div className="row">
          <TextField label="Temperature" name="temperature" inputMode="decimal" value={form.temperature} onChange={(e) => set("temperature", e.target.value)} error={error} />
          <TextField label="Max tokens" name="maxTokens" inputMode="numeric" value={form.maxTokens} onChange={(e) => set("maxTokens", e.target.value)} error={error} />
          <TextField label="Time limit (ms)" name="timeoutMs" inputMode="numeric" value={form.timeoutMs} onChange={(e) => set("timeoutMs", e.target.value)} error={error} />
        </div>
        <TextField label="Completion callback URL" name="notifyUrl" type="url" value={form.notifyUrl} onChange={(e) => set("notifyUrl", e.target.value)} error={error} hint="Galaxy POSTs each finished execution here, signed." />
      </fieldset>
      <FormError error={error} />
      <div className="actions">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : existing ? "Save as a new version" : "Create agent"}
        </button>
        <Link to={existing ? `/agents/${existing.id}` : "/agents"} className="button">
          Cancel
        </Link>
      </div>
    </form>
  );
}

export default function AgentEditor({ params }: { params: Record<string, string> }) {
  const id = params.id;
  const agent = useQuery({ queryKey: ["agent", id], queryFn: () => ok(sdk.api.GET("/api/agents/{id}", { params: { path: { id: id ?? "" } } })).then((r) => r.data), enabled: id !== undefined });
  if (!id)
    return (
      <section>
        <PageHeader title="New agent" />
        <AgentForm />
      </section>
    );
  return (
    <section>
      <PageHeader title={agent.data ? `Edit ${agent.data.name}` : "Edit agent"} />
      {agent.isPending ? <Loading what="Loading the agent" /> : null}
      {agent.isError ? <ErrorNotice error={agent.error} /> : null}
      {agent.data ? <AgentForm existing={agent.data} /> : null}
    </section>
  );
}
