import type { ReactNode } from "react";
import { GalaxyApiError } from "../api/client";

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

/** A failed call, in the API's own words; a retry button when one makes sense. */
export function ErrorNotice({ error, retry }: { error: unknown; retry?: () => void }) {
  const message = error instanceof GalaxyApiError ? error.message : error instanceof Error ? error.message : "Something went wrong";
  const code = error instanceof GalaxyApiError ? error.code : undefined;
  return (
    <div className="notice error" role="alert">
      <p>
        {message}
        {code ? <code className="code"> {code}</code> : null}
      </p>
      {retry ? (
        <button type="button" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

const TONES: Record<string, string> = {
  completed: "ok",
  active: "ok",
  indexed: "ok",
  delivered: "ok",
  applied: "ok",
  running: "live",
  queued: "wait",
  pending: "wait",
  draft: "wait",
  paused: "wait",
  failed: "bad",
  timed_out: "bad",
  cancelled: "muted",
  refused: "bad",
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge ${TONES[status] ?? "muted"}`}>{status.replace("_", " ")}</span>;
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1>{title}</h1>
      {children ? <div className="actions">{children}</div> : null}
    </div>
  );
}
