import type { ClaimVerifier } from "@galaxy/bus";
import { TERMINAL_STATUSES, authorize, principalOf, type Execution } from "@galaxy/contracts";
import { Counter, Gauge, type Registry } from "@galaxy/observability";

/** What `GATEWAY_FINISHED_EXECUTIONS_MB` defaults to (docs/operations.md). */
export const FINISHED_EXECUTIONS_DEFAULT_MB = 16;
/** One answer may take at most this share of the memory, so a few large ones cannot push out the rest. */
const LARGEST_SHARE = 16;
/** V8 keeps a string in one or two bytes a character: counted at two (the Map's few dozen bytes an entry are not counted). */
const BYTES_PER_CHAR = 2;

/**
 * The answers of `GET /api/executions/{id}` for executions that have finished, kept in the
 * gateway's memory, least recently read dropped first (docs/api.md, "Reading an execution").
 *
 * A finished execution never changes: its status is final and nothing rewrites its row
 * (docs/executions.md). So once the worker has answered a read of one, under row-level
 * security and for one workspace, the same workspace's later reads can be answered with the
 * same bytes without asking it again, once the caller's claim passes the worker's own check.
 * The key is the workspace and the id: another workspace's read of the id misses, goes to the
 * worker, and is a 404 there, reported as it always is. A running execution is never kept.
 * Every gateway instance keeps its own.
 */
export class FinishedExecutions {
  private readonly answers = new Map<string, string>();
  private bytes = 0;
  private readonly reads: Counter<"source">;
  private readonly held: Gauge;

  constructor(
    private readonly maxBytes: number,
    registry: Registry,
    private readonly claims: Pick<ClaimVerifier, "verify">,
  ) {
    this.reads = new Counter({ name: "galaxy_gateway_execution_reads_total", help: "GET /api/executions/{id} answered with the execution (refusals not counted), by where the answer came from: memory (a finished execution read before) or the worker", labelNames: ["source"], registers: [registry] });
    this.held = new Gauge({ name: "galaxy_gateway_finished_executions_bytes", help: "Memory held by the answers of finished executions (counted at two bytes a character)", registers: [registry] });
  }

  /**
   * The answer kept for this workspace's execution, as the JSON the route sends, when the
   * caller's claim (`Gx-Claim`, as the worker would get it) may read it; undefined otherwise.
   */
  async answer(claim: string, workspaceId: string, id: string): Promise<string | undefined> {
    const key = keyOf(workspaceId, id);
    const body = this.answers.get(key);
    if (body === undefined || !(await this.mayRead(claim, workspaceId))) return undefined;
    // Read again: it becomes the most recent (a Map keeps insertion order).
    this.answers.delete(key);
    this.answers.set(key, body);
    this.reads.inc({ source: "memory" });
    return body;
  }

  /**
   * The answer to send for what the worker replied: `{ data: execution }` as JSON, kept when the
   * execution has finished and the answer fits. The bus parsed the reply with `Execution`, so
   * these are the bytes the route's response schema writes (a test compares them).
   */
  answerFromWorker(workspaceId: string, execution: Execution): string {
    this.reads.inc({ source: "worker" });
    const body = JSON.stringify({ data: execution });
    if (!TERMINAL_STATUSES.has(execution.status) || execution.workspaceId !== workspaceId) return body;
    const key = keyOf(workspaceId, execution.id);
    const size = sizeOf(key, body);
    if (size > this.maxBytes / LARGEST_SHARE) return body;
    const previous = this.answers.get(key);
    if (previous !== undefined) {
      this.answers.delete(key);
      this.bytes -= sizeOf(key, previous);
    }
    this.answers.set(key, body);
    this.bytes += size;
    for (const [oldest, kept] of this.answers) {
      if (this.bytes <= this.maxBytes) break;
      this.answers.delete(oldest);
      this.bytes -= sizeOf(oldest, kept);
    }
    this.held.set(this.bytes);
    return body;
  }

  /**
   * The worker's check of a read, on the same claim: verified (signature, expiry; remembered
   * once verified), of this workspace, and allowed `executions.read`. A claim that fails is left
   * to the worker, which refuses it in its own words.
   */
  private async mayRead(claim: string, workspaceId: string): Promise<boolean> {
    try {
      const verified = await this.claims.verify(claim, { checkExpiry: true });
      return verified.ws === workspaceId && authorize(principalOf(verified), "executions.read");
    } catch {
      return false;
    }
  }

  /** How many answers are kept (for tests and the bound's checks). */
  get size(): number {
    return this.answers.size;
  }
}

function keyOf(workspaceId: string, id: string): string {
  return `${workspaceId}/${id}`;
}

function sizeOf(key: string, body: string): number {
  return (key.length + body.length) * BYTES_PER_CHAR;
}
