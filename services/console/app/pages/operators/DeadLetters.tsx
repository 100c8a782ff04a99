import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { DeadLetter, DeadLetterRedrive } from "../../api/types";
import { EmptyState, ErrorNotice, Loading, StatusBadge } from "../../ui/feedback";
import { formatTime, json } from "../../ui/format";
import { Pager } from "../../ui/Pager";

export function DeadLetters() {
  const client = useQueryClient();
  const [consumer, setConsumer] = useState("");
  const [pendingOnly, setPendingOnly] = useState(true);
  const [offset, setOffset] = useState(0);
  const [results, setResults] = useState<Record<number, DeadLetterRedrive>>({});
  const letters = useQuery({
    queryKey: ["dead-letters", consumer, pendingOnly, offset],
    queryFn: ({ signal }) => ok(sdk.api.GET("/api/admin/dead-letters", { params: { query: { limit: 25, offset, ...(consumer ? { consumer } : {}), ...(pendingOnly ? { redriven: "false" as const } : {}) } }, signal })),
    refetchInterval: 5_000,
  });
  const redrive = useMutation({
    mutationFn: (id: number) => ok(sdk.api.POST("/api/admin/dead-letters/{id}/redrive", { params: { path: { id } } })).then((r) => r.data),
    onSuccess: (result) => {
      setResults((all) => ({ ...all, [result.id]: result }));
      void client.invalidateQueries({ queryKey: ["dead-letters"] });
    },
  });
  return (
    <div>
      <div className="filters">
        <label>
          Consumer{" "}
          <input value={consumer} placeholder="audit" onChange={(e) => { setConsumer(e.target.value); setOffset(0); }} />
        </label>
        <label className="check">
          <input type="checkbox" checked={pendingOnly} onChange={(e) => { setPendingOnly(e.target.checked); setOffset(0); }} /> Not redriven yet
        </label>
      </div>
      {letters.isPending ? <Loading what="Loading dead letters" /> : null}
      {letters.isError ? <ErrorNotice error={letters.error} /> : null}
      {redrive.isError ? <ErrorNotice error={redrive.error} /> : null}
      {letters.data && letters.data.data.length === 0 ? <EmptyState title="No dead letters.">Messages a consumer could not handle after its retries land here, with their error.</EmptyState> : null}
      <ul className="plain cards">
        {(letters.data?.data ?? []).map((letter) => {
          const result = results[letter.id];
          return (
            <li key={letter.id} className="card" aria-label={`Dead letter ${letter.id}`}>
              <div className="card-head">
                <h3>
                  #{letter.id} · {letter.consumer} · <code>{letter.subject}</code>
                </h3>
                {letter.redrive ? (
                  <span>
                    Redriven: <StatusBadge status={letter.redrive.outcome} />
                  </span>
                ) : (
                  <button type="button" className="primary" onClick={() => redrive.mutate(letter.id)} disabled={redrive.isPending}>
                    Redrive
                  </button>
                )}
              </div>
              <p className="field-error">{letter.error}</p>
              <p className="hint">
                {letter.eventType ?? "unknown type"} · {letter.deliveries} deliveries · failed {formatTime(letter.failedAt)}
              </p>
              {result ? (
                <p role="status" data-testid={`redrive-${letter.id}`}>
                  Redrive: <StatusBadge status={result.outcome} /> {result.error ?? ""}
                </p>
              ) : null}
              <details>
                <summary>Payload</summary>
                <pre>{json(letter.payload)}</pre>
              </details>
            </li>
          );
        })}
      </ul>
      <Pager page={letters.data} offset={offset} onOffset={setOffset} />
    </div>
  );
}
