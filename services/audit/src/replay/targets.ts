import { toRawMessage, type Bus, type EventMessage, type ReadMessage } from "@galaxy/bus";
import { ConflictError, PROJECTIONS, REPLAY_APPLY_MAX_MESSAGES, SYSTEM_WORKSPACE_ID, type ProjectionName, type RawBusMessage, type ReplayApplyResult } from "@galaxy/contracts";
import type { ReplayHolds } from "@galaxy/db";
import type { AuditDb } from "../db";

/**
 * Where a replay hands its messages: one projection, through the handler of the consumer that
 * keeps it. Nothing is published into `EVENTS`.
 */
export interface ReplayTarget {
  readonly name: ProjectionName;
  readonly consumer: string;
  /** The consumer's own filter: a message outside it is skipped. */
  readonly filter: string;
  /**
   * Starts what can be done with a batch before its turn, so that it overlaps the batch applied
   * before it (the audit log checks the messages' claims); `apply()` of the answer applies the
   * messages in order, as the replay read them. Each refused one is a dead letter of the
   * consumer, and is reported in the result.
   */
  prepare(replayId: string, messages: ReadMessage[]): PreparedBatch;
  /**
   * Holds live events of the workspace, then drops the projection's part of it; answers how
   * many rows went. When it cannot drop, it gives the hold back before it throws.
   */
  reset(replayId: string, workspaceId: string): Promise<number>;
  /** Applies the live events that waited, in order, and lets live events through again. */
  release(replayId: string, workspaceId: string): Promise<number>;
}

/** A batch {@link ReplayTarget.prepare} started on. */
export interface PreparedBatch {
  apply(): Promise<ReplayApplyResult>;
}

/** The audit log, kept by this service: messages go straight to the `audit` consumer's handler. */
export class AuditLogTarget implements ReplayTarget {
  readonly name = "audit" as const;
  readonly consumer = PROJECTIONS.audit.consumer;
  readonly filter = PROJECTIONS.audit.filter;

  constructor(
    private readonly deps: {
      bus: Bus;
      holds: ReplayHolds<AuditDb>;
      /** Drops one workspace's chain so a replay can rebuild it (`audit.replay_reset`: all or nothing); answers the rows dropped. */
      dropWorkspace: (workspaceId: string) => Promise<number>;
      /** Whether retention pruned the workspace's chain (it has a checkpoint). */
      pruned: (workspaceId: string) => Promise<boolean>;
      /** Drafts and hashes checked messages ahead of their turn (`AuditLogService.hashAhead`). */
      hashAhead: (messages: readonly EventMessage[]) => void;
    },
  ) {}

  prepare(replayId: string, messages: ReadMessage[]): PreparedBatch {
    // Many events per transaction, as the live consumer applies them; in this process, so
    // the messages go as they were read, with no copy to the raw form a request carries, and
    // their claims are checked, and their entries hashed, while the batch before is written.
    const read = this.deps.bus.prepareRead(this.consumer, messages, { replayId });
    void read.checked.then((checked) => {
      if (checked) this.deps.hashAhead(checked);
    });
    return {
      apply: async () => {
        const failed = await read.apply();
        return { applied: messages.length - failed.length, failed };
      },
    };
  }

  /**
   * @throws {ConflictError} `audit_chain_pruned`: retention removed the start of the chain, which
   *   `EVENTS` cannot rebuild with the same `seq` and hashes (nor may the removed entries return)
   */
  async reset(replayId: string, workspaceId: string): Promise<number> {
    if (await this.deps.pruned(workspaceId)) {
      throw new ConflictError(
        "audit_chain_pruned",
        "retention has pruned this workspace's audit log: it cannot be rebuilt from the start; replay it without reset, which adds what is missing after its last entry",
      );
    }
    await this.deps.holds.hold(workspaceId, replayId);
    try {
      return await this.deps.dropWorkspace(workspaceId);
    } catch (error) {
      // Nothing was dropped (the function is one transaction): what waited goes through, the hold ends.
      await this.release(replayId, workspaceId);
      throw error;
    }
  }

  async release(replayId: string, workspaceId: string): Promise<number> {
    return this.deps.holds.release(workspaceId, (raw) => this.deps.bus.deliver(this.consumer, raw, { replayId }));
  }
}

/** A projection of another service, reached through its `svc.<service>.replay.*` requests with audit's service claim. */
export class RemoteTarget implements ReplayTarget {
  readonly consumer: string;
  readonly filter: string;

  constructor(
    readonly name: "execution-worker.agent-versions",
    private readonly bus: Bus,
  ) {
    this.consumer = PROJECTIONS[name].consumer;
    this.filter = PROJECTIONS[name].filter;
  }

  prepare(replayId: string, messages: ReadMessage[]): PreparedBatch {
    // The worker checks the messages when they reach it: nothing to start before the batch's turn.
    return {
      apply: async () => {
        const raws = messages.map((m) => toRawMessage(this.bus.unprefixed(m.subject), m.seq, m.headers, m.data));
        const options = { ...(await this.options()), timeoutMs: 60_000 };
        // A batch is larger than one request may be: its requests go one after the other, in order.
        return applyInParts(requestsOf(raws), (part) => this.bus.request("execution.replay.apply", { replayId, consumer: this.consumer, messages: part }, options));
      },
    };
  }

  async reset(replayId: string, workspaceId: string): Promise<number> {
    const { dropped } = await this.bus.request("execution.replay.reset", { replayId, consumer: this.consumer, workspaceId }, await this.options());
    return dropped;
  }

  async release(replayId: string, workspaceId: string): Promise<number> {
    const { applied } = await this.bus.request("execution.replay.release", { replayId, consumer: this.consumer, workspaceId }, { ...(await this.options()), timeoutMs: 60_000 });
    return applied;
  }

  private async options() {
    return { claim: await this.bus.serviceClaims.get(SYSTEM_WORKSPACE_ID), workspaceId: SYSTEM_WORKSPACE_ID };
  }
}

/**
 * A batch's apply failed after some of its messages were applied (an earlier request of the
 * batch was answered): the replay counts them, then fails with the same message as `cause`.
 */
export class PartlyAppliedError extends Error {
  constructor(
    readonly result: ReplayApplyResult,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/**
 * Sends `parts` one after the other, in order, and adds up their answers.
 *
 * @throws what a send threw, as a {@link PartlyAppliedError} with the answers before it when
 *   there were any
 */
export async function applyInParts<T>(parts: readonly T[], send: (part: T) => Promise<ReplayApplyResult>): Promise<ReplayApplyResult> {
  const result: ReplayApplyResult = { applied: 0, failed: [] };
  for (const part of parts) {
    let answer: ReplayApplyResult;
    try {
      answer = await send(part);
    } catch (error) {
      if (result.applied === 0 && result.failed.length === 0) throw error;
      throw new PartlyAppliedError(result, error);
    }
    result.applied += answer.applied;
    result.failed.push(...answer.failed);
  }
  return result;
}

/** What one `replay.apply` request carries at most besides its message count: well under the 1 MB a NATS server allows by default (Galaxy's configuration allows 4 MB). */
const REQUEST_BYTES = 512 * 1024;

/**
 * `raws` cut, in order, into requests of at most {@link REPLAY_APPLY_MAX_MESSAGES} messages and
 * about {@link REQUEST_BYTES} of subjects, headers and payloads (a larger message goes alone).
 */
export function requestsOf(raws: readonly RawBusMessage[], maxBytes = REQUEST_BYTES): RawBusMessage[][] {
  const requests: RawBusMessage[][] = [];
  let current: RawBusMessage[] = [];
  let bytes = 0;
  for (const raw of raws) {
    const size = raw.subject.length + raw.data.length + Object.entries(raw.headers).reduce((sum, [key, values]) => sum + key.length + values.join("").length, 0);
    if (current.length > 0 && (current.length >= REPLAY_APPLY_MAX_MESSAGES || bytes + size > maxBytes)) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(raw);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/**
 * The test of the NATS filter `filter` (`*` one token, `>` the rest), made once for a replay's
 * many subjects: each subject is read where its dots are, with no array of its tokens.
 */
export function subjectFilter(filter: string): (subject: string) => boolean {
  const wanted = filter.split(".");
  return (subject) => {
    // Where the subject's next token starts; -1 once every token was read.
    let from = 0;
    for (const token of wanted) {
      if (token === ">") return from !== -1;
      if (from === -1) return false;
      const dot = subject.indexOf(".", from);
      const end = dot === -1 ? subject.length : dot;
      if (token !== "*" && (end - from !== token.length || !subject.startsWith(token, from))) return false;
      from = dot === -1 ? -1 : dot + 1;
    }
    return from === -1;
  };
}
