import type { ExecutionStep } from "../../api/types";
import { formatDuration, json } from "../../ui/format";
import { StatusBadge } from "../../ui/feedback";

const LABELS: Record<ExecutionStep["name"], string> = { context: "Context", model_call: "Model call", tool_call: "Tool call", output: "Output" };

/** The pipeline's finished steps in order, each with its duration and what it did. */
export function StepTimeline({ steps, running }: { steps: ExecutionStep[]; running: boolean }) {
  const longest = Math.max(1, ...steps.map((s) => s.durationMs));
  if (steps.length === 0) return <p className="hint">{running ? "The first step is under way…" : "No steps were recorded."}</p>;
  return (
    <ol className="timeline" aria-label="Step timeline">
      {steps.map((step, index) => {
        const tool = typeof step.detail.tool === "string" ? step.detail.tool : typeof step.detail.name === "string" ? step.detail.name : null;
        return (
          <li key={`${step.name}-${index}`} className="step">
            <div className="step-head">
              <strong>{LABELS[step.name]}</strong>
              {tool ? <code>{tool}</code> : null}
              <StatusBadge status={step.status} />
              <span className="duration">{formatDuration(step.durationMs)}</span>
            </div>
            <div className="bar" aria-hidden="true">
              <span style={{ width: `${Math.max(2, (step.durationMs / longest) * 100)}%` }} />
            </div>
            {Object.keys(step.detail).length > 0 ? (
              <details>
                <summary>Details</summary>
                <pre>{json(step.detail)}</pre>
              </details>
            ) : null}
          </li>
        );
      })}
      {running ? <li className="step pending">Running…</li> : null}
    </ol>
  );
}
