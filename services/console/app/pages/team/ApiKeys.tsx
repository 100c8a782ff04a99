import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import { ROLES, type ApiKey, type Role } from "../../api/types";
import { EmptyState, ErrorNotice, Loading } from "../../ui/feedback";
import { FormError, SecretOnce, SelectField, TextField } from "../../ui/form";
import { formatTime } from "../../ui/format";

export function ApiKeys() {
  const client = useQueryClient();
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: ({ signal }) => ok(sdk.api.GET("/api/api-keys", { params: { query: { limit: 100 } }, signal })) });
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [expiresAt, setExpiresAt] = useState("");
  const [created, setCreated] = useState<ApiKey | null>(null);
  const refresh = () => void client.invalidateQueries({ queryKey: ["api-keys"] });
  const create = useMutation({
    mutationFn: () => ok(sdk.api.POST("/api/api-keys", { body: { name, role, ...(expiresAt ? { expiresAt: new Date(expiresAt).toISOString() } : {}) } })).then((r) => r.data),
    onSuccess: (key) => {
      setCreated(key);
      setName("");
      refresh();
    },
  });
  const revoke = useMutation({ mutationFn: (id: string) => ok(sdk.api.DELETE("/api/api-keys/{id}", { params: { path: { id } } })), onSuccess: refresh });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <section className="card" aria-labelledby="keys-heading">
      <h2 id="keys-heading">API keys</h2>
      {created?.key ? <SecretOnce label={`API key ${created.name}`} value={created.key} /> : null}
      {keys.isPending ? <Loading what="Loading API keys" /> : null}
      {keys.isError ? <ErrorNotice error={keys.error} /> : null}
      {revoke.isError ? <ErrorNotice error={revoke.error} /> : null}
      {keys.data && keys.data.data.length === 0 ? <EmptyState title="No API keys.">Create one for a server or a script to call the API.</EmptyState> : null}
      {keys.data && keys.data.data.length > 0 ? (
        <ul className="plain">
          {keys.data.data.map((k) => (
            <li key={k.id}>
              <strong>{k.name}</strong> <code>{k.prefix}…</code> {k.role} · created {formatTime(k.createdAt)} · {k.expiresAt ? `expires ${formatTime(k.expiresAt)}` : "never expires"}{" "}
              <button type="button" className="danger" onClick={() => window.confirm(`Revoke ${k.name}? Calls with it fail at once.`) && revoke.mutate(k.id)}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      <form onSubmit={submit} noValidate className="inline-form" aria-label="Create an API key">
        <TextField label="Key name" name="name" value={name} onChange={(e) => setName(e.target.value)} error={create.error} />
        <SelectField label="Key role" name="role" value={role} onChange={(e) => setRole(e.target.value as Role)} error={create.error} options={ROLES.map((r) => [r, r] as const)} />
        <TextField label="Expires (optional)" name="expiresAt" type="datetime-local" value={expiresAt} onChange={(e) => setExpiresAt(e.target.value)} error={create.error} />
        <FormError error={create.error} />
        <button type="submit" disabled={create.isPending}>
          Create key
        </button>
      </form>
    </section>
  );
}
