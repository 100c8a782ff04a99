import type { ServerResponse } from "node:http";
import type { Bus } from "@galaxy/bus";
import { EventEnvelope, ExecutionChangeType, ExecutionFinished, ExecutionQueued, ExecutionStarted, ExecutionSummary, type ExecutionChange } from "@galaxy/contracts";
import { HEARTBEAT_MS } from "./execution-stream";

/** A client this far behind (bytes not yet sent) is dropped: it reconnects and re-reads its list. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export interface ExecutionChangesOptions {
  bus: Bus;
  workspaceId: string;
  /** Only this agent's executions, when given. */
  agentId?: string | undefined;
  /** When the stream ends by itself (the caller's token expires, or the longest a stream lives). */
  endsAt: number;
  heartbeatMs?: number;
}

/** The change an execution event tells, or undefined for any other event. */
export function changeOf(data: unknown, workspaceId: string): ExecutionChange | undefined {
  const envelope = EventEnvelope.safeParse(data);
  if (!envelope.success || envelope.data.workspaceId !== workspaceId) return undefined;
  const type = ExecutionChangeType.safeParse(envelope.data.type);
  if (!type.success) return undefined;
  const occurredAt = envelope.data.occurredAt;
  if (type.data === "execution.started") {
    const started = ExecutionStarted.safeParse(envelope.data.data);
    if (!started.success) return undefined;
    return { type: type.data, executionId: started.data.executionId, agentId: started.data.agentId, status: "running", occurredAt, execution: null };
  }
  const parsed = (type.data === "execution.queued" ? ExecutionQueued : ExecutionFinished).safeParse(envelope.data.data);
  if (!parsed.success) return undefined;
  const execution = ExecutionSummary.parse(parsed.data.execution);
  return { type: type.data, executionId: execution.id, agentId: execution.agentId, status: execution.status, occurredAt, execution };
}

/**
 * One client's `GET /api/executions/stream` (docs/api.md): every status change of the
 * workspace's executions (core `evt.<ws>.execution.>`, the events the per-execution stream
 * follows) as it happens, one frame each. Core NATS delivers at most once and nothing is
 * replayed, so the first frame is `ready` (read the list now), and a client that reconnects
 * reads its list again. The stream ends when the caller's token expires or after
 * `MAX_EXECUTION_CHANGES_MS`, and when the client falls far behind.
 */
export class ExecutionChanges {
  private subscription: { unsubscribe(): void } | undefined;
  private timers: NodeJS.Timeout[] = [];
  private out: ServerResponse | undefined;
  private ended = false;
  private readonly finished: Promise<void>;
  private finish!: () => void;

  constructor(private readonly options: ExecutionChangesOptions) {
    this.finished = new Promise((resolve) => (this.finish = resolve));
  }

  /** Subscribes before anything is written, so no change after `ready` is missed. */
  async open(): Promise<void> {
    this.subscription = this.options.bus.subscribeCore(`evt.${this.options.workspaceId}.execution.>`, (data) => this.onEvent(data));
    await this.options.bus.flush();
  }

  async run(out: ServerResponse): Promise<void> {
    this.out = out;
    out.on("close", () => this.close());
    out.write(`event: ready\ndata: {}\n\n`);
    this.timers.push(
      setInterval(() => this.send(": keep-alive\n\n"), this.options.heartbeatMs ?? HEARTBEAT_MS),
      setTimeout(() => this.close(), Math.max(0, this.options.endsAt - Date.now())),
    );
    return this.finished;
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.subscription?.unsubscribe();
    for (const timer of this.timers) clearTimeout(timer);
    if (this.out && !this.out.writableEnded) this.out.end();
    this.finish();
  }

  private onEvent(data: unknown): void {
    if (this.ended || !this.out) return;
    const change = changeOf(data, this.options.workspaceId);
    if (!change || (this.options.agentId !== undefined && change.agentId !== this.options.agentId)) return;
    this.send(`event: ${change.type}\ndata: ${JSON.stringify(change)}\n\n`);
  }

  private send(frame: string): void {
    if (this.ended || !this.out) return;
    if (this.out.writableLength > MAX_BUFFERED_BYTES) return this.close();
    this.out.write(frame);
  }
}
