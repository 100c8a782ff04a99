import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { KnowledgeBase } from "../../api/types";
import { Link } from "../../router";
import { EmptyState, ErrorNotice, Loading, PageHeader } from "../../ui/feedback";
import { FormError, TextField } from "../../ui/form";
import { formatTime } from "../../ui/format";

export default function KnowledgePage() {
  const client = useQueryClient();
  const bases = useQuery({ queryKey: ["knowledge-bases", "all"], queryFn: ({ signal }) => ok(sdk.api.GET("/api/knowledge-bases", { params: { query: { limit: 100 } }, signal })) });
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: () => ok(sdk.api.POST("/api/knowledge-bases", { body: { name } })).then((r) => r.data),
    onSuccess: () => {
      setName("");
      void client.invalidateQueries({ queryKey: ["knowledge-bases"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <section>
      <PageHeader title="Knowledge" />
      {bases.isPending ? <Loading what="Loading knowledge bases" /> : null}
      {bases.isError ? <ErrorNotice error={bases.error} /> : null}
      {bases.data && bases.data.data.length === 0 ? (
        <EmptyState title="No knowledge bases yet.">
          <p>A knowledge base holds documents an agent searches while it runs. Create one below, add documents, then pick it in an agent's settings.</p>
        </EmptyState>
      ) : null}
      {bases.data && bases.data.data.length > 0 ? (
        <ul className="plain cards">
          {bases.data.data.map((kb) => (
            <li key={kb.id} className="card">
              <Link to={`/knowledge/${kb.id}`}>{kb.name}</Link> · {kb.documentCount} documents · created {formatTime(kb.createdAt)}
            </li>
          ))}
        </ul>
      ) : null}
      <form onSubmit={submit} noValidate className="inline-form" aria-label="New knowledge base">
        <TextField label="Knowledge base name" name="name" value={name} onChange={(e) => setName(e.target.value)} error={create.error} />
        <FormError error={create.error} />
        <button type="submit" className="primary" disabled={create.isPending}>
          Create knowledge base
        </button>
      </form>
    </section>
  );
}
