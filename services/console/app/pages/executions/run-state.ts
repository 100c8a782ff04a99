import type { Execution, ExecutionStep } from "../../api/types";
import type { SseFrame } from "../../api/sse";

/** What the run page knows of an execution from its event stream. */
export interface RunState {
  steps: ExecutionStep[];
  /** Token deltas of the running model calls, joined. */
  liveText: string;
  /** The final record, from the terminal event. */
  finished: Execution | null;
  started: boolean;
  lastSeq: number;
}

export const EMPTY_RUN: RunState = { steps: [], liveText: "", finished: null, started: false, lastSeq: 0 };

const TERMINAL_EVENTS = new Set(["execution.completed", "execution.failed", "execution.cancelled"]);

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : null;
}

/** Folds one SSE frame into the state; a frame already seen (by seq) changes nothing. */
export function applyFrame(state: RunState, frame: SseFrame): RunState {
  let payload: Record<string, unknown> | null;
  try {
    payload = record(JSON.parse(frame.data));
  } catch {
    return state;
  }
  if (!payload) return state;
  if (frame.event === "execution.delta") {
    const delta = payload.delta;
    return typeof delta === "string" ? { ...state, liveText: state.liveText + delta } : state;
  }
  const seq = frame.id ? Number(frame.id) : 0;
  if (seq && seq <= state.lastSeq) return state;
  // Stored events carry the envelope; its `data` is the event's own body.
  const data = record(payload.data) ?? payload;
  const next = { ...state, lastSeq: seq || state.lastSeq };
  if (frame.event === "execution.started") return { ...next, started: true };
  if (frame.event === "execution.step_completed") {
    const step = record(data.step);
    return step ? { ...next, steps: [...next.steps, step as unknown as ExecutionStep] } : next;
  }
  if (TERMINAL_EVENTS.has(frame.event)) {
    const execution = record(data.execution);
    return execution ? { ...next, finished: execution as unknown as Execution } : next;
  }
  return next;
}
