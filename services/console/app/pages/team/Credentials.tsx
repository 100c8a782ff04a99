import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { CredentialSummary } from "../../api/types";
import { ErrorNotice, Loading } from "../../ui/feedback";
import { FormError, SelectField, TextField } from "../../ui/form";
import { formatTime } from "../../ui/format";

/** Provider keys: set and replaced, never shown (only their last four characters). */
export function Credentials() {
  const client = useQueryClient();
  const list = useQuery({ queryKey: ["credentials"], queryFn: () => ok(sdk.api.GET("/api/provider-credentials")).then((r) => r.data) });
  const [provider, setProvider] = useState<CredentialSummary["provider"]>("openai");
  const [apiKey, setApiKey] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const refresh = () => void client.invalidateQueries({ queryKey: ["credentials"] });
  const save = useMutation({
    mutationFn: () => ok(sdk.api.PUT("/api/provider-credentials/{provider}", { params: { path: { provider } }, body: { apiKey, ...(baseUrl ? { baseUrl } : {}) } })),
    onSuccess: () => {
      setApiKey("");
      refresh();
    },
  });
  const remove = useMutation({ mutationFn: (p: CredentialSummary["provider"]) => ok(sdk.api.DELETE("/api/provider-credentials/{provider}", { params: { path: { provider: p } } })), onSuccess: refresh });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <section className="card" aria-labelledby="credentials-heading">
      <h2 id="credentials-heading">Provider credentials</h2>
      {list.isPending ? <Loading what="Loading credentials" /> : null}
      {list.isError ? <ErrorNotice error={list.error} /> : null}
      {remove.isError ? <ErrorNotice error={remove.error} /> : null}
      {list.data && list.data.length === 0 ? <p className="hint">None set: agents use the platform's keys. Set your own to bill your provider account.</p> : null}
      <ul className="plain">
        {(list.data ?? []).map((c) => (
          <li key={c.provider}>
            <strong>{c.provider}</strong> ends in <code>{c.last4}</code>
            {c.baseUrl ? ` · ${c.baseUrl}` : ""} · set {formatTime(c.updatedAt)}{" "}
            <button type="button" className="danger" onClick={() => remove.mutate(c.provider)}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form onSubmit={submit} noValidate className="inline-form" aria-label="Set a provider key">
        <SelectField label="Provider" name="provider" value={provider} onChange={(e) => setProvider(e.target.value as CredentialSummary["provider"])} error={save.error} options={[["openai", "OpenAI"], ["anthropic", "Anthropic"], ["google", "Google"], ["pinecone", "Pinecone"]]} />
        <TextField label="API key" name="apiKey" type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} error={save.error} />
        <TextField label="Base URL (optional)" name="baseUrl" type="url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} error={save.error} />
        <FormError error={save.error} />
        <button type="submit" disabled={save.isPending}>
          Save key
        </button>
      </form>
    </section>
  );
}
