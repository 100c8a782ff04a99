import { uuidv7, type EventActor, type ExecutionStep, type StepName } from "@galaxy/contracts";
import { outboxRow, type EventContext, type OutboxRow } from "@galaxy/db";
import { endSpan, startSpan, traceparentOf, type Span } from "@galaxy/observability";
import type { StepRecord } from "./run-store";

/** The worker as the actor of the events it records for a run. */
export const WORKER_ACTOR: EventActor = { type: "service", id: "execution-worker" };

/**
 * An execution's steps during one attempt, kept in memory: the first was written `running`
 * when the attempt began (a crash leaves it for the next attempt to close as `abandoned`); the
 * others, and every `execution.step_completed` event, are written with the run's end in the
 * same statement. A run of one model call thus writes twice, however many steps it takes.
 * Each step is a span (`step <name>`), child of the run's; its `execution.step_completed`
 * carries it, and the work of the step (a model or tool call) runs under it.
 */
export class StepLog {
  private readonly closed: StepRecord[] = [];
  private readonly events: OutboxRow[] = [];
  /** Set once the run stopped waiting for its steps (see `end`): no step opens after it. */
  private ended = false;
  private span: Span;

  constructor(
    private readonly workspaceId: string,
    private readonly executionId: string,
    private readonly context: () => EventContext,
    public current: StepRecord,
    /** The run's span, parent of the steps' spans. */
    private readonly runTraceparent?: string | undefined,
  ) {
    this.span = this.startStepSpan(current);
  }

  /** The traceparent of the open step's span: what a call made during the step continues. */
  stepTraceparent(): string | undefined {
    return traceparentOf(this.span) ?? this.runTraceparent;
  }

  /** A step to open as the first of an attempt. */
  static open(name: StepName, detail: Record<string, unknown>, at: Date): StepRecord {
    return { id: uuidv7(), name, status: "running", startedAt: at, completedAt: null, durationMs: null, detail };
  }

  /** Closes the current step and opens the next. */
  next(status: ExecutionStep["status"], detail: Record<string, unknown>, name: StepName, nextDetail: Record<string, unknown>): void {
    if (this.ended) throw new Error("the execution's run already ended; no step opens after it");
    const at = new Date();
    this.close(status, detail, at);
    this.current = StepLog.open(name, nextDetail, at);
    this.span = this.startStepSpan(this.current);
  }

  /** A run that stopped waiting for a stuck step (its time limit, a stop or a cancel) opens no step after this. */
  end(): void {
    this.ended = true;
  }

  /** Closes the current step with the run's end; returns every step and step event of the attempt, to write. */
  finish(status: ExecutionStep["status"], detail: Record<string, unknown>, at: Date): { steps: StepRecord[]; events: OutboxRow[] } {
    this.close(status, detail, at);
    return { steps: [...this.closed], events: [...this.events] };
  }

  /** The steps of the attempt with the current one abandoned (the execution goes back to the queue), with why. */
  abandon(reason: string, at: Date): StepRecord[] {
    const step = this.current;
    this.span.setAttribute("galaxy.step.status", "abandoned");
    endSpan(this.span);
    return [...this.closed, { ...step, status: "abandoned", completedAt: at, durationMs: Math.max(0, at.getTime() - step.startedAt.getTime()), detail: { ...step.detail, reason } }];
  }

  private close(status: ExecutionStep["status"], detail: Record<string, unknown>, at: Date): void {
    const step = this.current;
    const durationMs = Math.max(0, at.getTime() - step.startedAt.getTime());
    const fullDetail = { ...step.detail, ...detail };
    this.closed.push({ ...step, status, completedAt: at, durationMs, detail: fullDetail });
    this.events.push(
      outboxRow({
        type: "execution.step_completed",
        workspaceId: this.workspaceId,
        actor: WORKER_ACTOR,
        // The seq is the statement's to give (see run-store.ts); 1 holds its place.
        data: { executionId: this.executionId, seq: 1, step: { name: step.name, status, startedAt: step.startedAt.toISOString(), completedAt: at.toISOString(), durationMs, detail: fullDetail } },
        context: { ...this.context(), traceparent: this.stepTraceparent(), tracestate: undefined },
        occurredAt: at,
      }),
    );
    this.span.setAttribute("galaxy.step.status", status);
    this.span.end(at);
  }

  private startStepSpan(step: StepRecord): Span {
    const attributes = { "galaxy.execution.id": this.executionId, "galaxy.step.id": step.id, "galaxy.step.name": step.name };
    return startSpan(`step ${step.name}`, { traceparent: this.runTraceparent }, { attributes, startTime: step.startedAt });
  }
}
