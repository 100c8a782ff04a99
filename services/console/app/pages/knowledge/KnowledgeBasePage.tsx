import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ChangeEvent, type FormEvent } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { KnowledgeBase, KnowledgeChunk, KnowledgeDocument } from "../../api/types";
import { EmptyState, ErrorNotice, Loading, PageHeader, StatusBadge } from "../../ui/feedback";
import { FormError, TextArea, TextField } from "../../ui/form";
import { formatTime } from "../../ui/format";

function Upload({ baseId }: { baseId: string }) {
  const client = useQueryClient();
  const [title, setTitle] = useState("");
  const [text, setText] = useState("");
  const add = useMutation({
    mutationFn: () => ok(sdk.api.POST("/api/knowledge-bases/{id}/documents", { params: { path: { id: baseId } }, body: { title, text } })).then((r) => r.data),
    onSuccess: () => {
      setTitle("");
      setText("");
      void client.invalidateQueries({ queryKey: ["documents", baseId] });
    },
  });
  const pick = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    if (!file) return;
    setTitle(title || file.name);
    setText(await file.text());
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };
  return (
    <form onSubmit={submit} noValidate className="card" aria-label="Add a document">
      <h2>Add a document</h2>
      <div className="field">
        <label htmlFor="document-file">Text file (optional)</label>
        <input id="document-file" type="file" accept=".txt,.md,.csv,.json,text/*" onChange={(e) => void pick(e)} />
      </div>
      <TextField label="Title" name="title" value={title} onChange={(e) => setTitle(e.target.value)} error={add.error} />
      <TextArea label="Text" name="text" rows={6} value={text} onChange={(e) => setText(e.target.value)} error={add.error} hint="Up to 512 KiB; it is split into chunks and embedded in the background." />
      <FormError error={add.error} />
      <button type="submit" className="primary" disabled={add.isPending}>
        Add document
      </button>
    </form>
  );
}

function Search({ baseId }: { baseId: string }) {
  const [query, setQuery] = useState("");
  const search = useMutation({ mutationFn: () => ok(sdk.api.POST("/api/knowledge-bases/{id}/query", { params: { path: { id: baseId } }, body: { query, topK: 5 } })).then((r) => r.data) });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    search.mutate();
  };
  return (
    <div className="card">
      <form onSubmit={submit} noValidate role="search" aria-label="Search this knowledge base">
        <TextField label="Search: the chunks an agent would get" name="query" value={query} onChange={(e) => setQuery(e.target.value)} error={search.error} />
        <FormError error={search.error} />
        <button type="submit" disabled={search.isPending}>
          Search
        </button>
      </form>
      {search.data && search.data.length === 0 ? <p className="hint">No chunks: add documents and wait for them to be indexed.</p> : null}
      <ol className="chunks">
        {(search.data ?? []).map((c) => (
          <li key={`${c.documentId}-${c.chunkIndex}`}>
            <span className="score">score {c.score.toFixed(3)}</span>
            <p>{c.chunk}</p>
          </li>
        ))}
      </ol>
    </div>
  );
}

export default function KnowledgeBasePage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const base = useQuery({ queryKey: ["knowledge-base", id], queryFn: () => ok(sdk.api.GET("/api/knowledge-bases/{id}", { params: { path: { id } } })).then((r) => r.data) });
  const documents = useQuery({
    queryKey: ["documents", id],
    queryFn: ({ signal }) => ok(sdk.api.GET("/api/knowledge-bases/{id}/documents", { params: { path: { id }, query: { limit: 100 } }, signal })),
    // Indexing runs in the background: poll while a document is still pending.
    refetchInterval: (query) => (query.state.data?.data.some((d) => d.status === "pending") ? 2_000 : false),
  });
  if (base.isPending) return <Loading what="Loading the knowledge base" />;
  if (base.isError) return <ErrorNotice error={base.error} />;
  return (
    <section>
      <PageHeader title={base.data.name} />
      <h2>Documents</h2>
      {documents.isError ? <ErrorNotice error={documents.error} /> : null}
      {documents.data && documents.data.data.length === 0 ? <EmptyState title="No documents yet.">Add one below; it is searchable once indexed.</EmptyState> : null}
      <ul className="plain">
        {(documents.data?.data ?? []).map((d) => (
          <li key={d.id}>
            <StatusBadge status={d.status} /> <strong>{d.title}</strong> · {d.sizeBytes} bytes · {d.chunkCount === null ? "not chunked yet" : `${d.chunkCount} ${d.chunkCount === 1 ? "chunk" : "chunks"}`} · {formatTime(d.createdAt)}
            {d.error ? <span className="field-error"> {d.error}</span> : null}
          </li>
        ))}
      </ul>
      <div className="run-grid">
        <Upload baseId={id} />
        <Search baseId={id} />
      </div>
    </section>
  );
}
