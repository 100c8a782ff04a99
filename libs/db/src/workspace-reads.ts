import pg from "pg";
import type { CompiledQuery, Kysely } from "kysely";
import { poolOf } from "./connection";
import { inlineParameters } from "./inline-parameters";
import { inWorkspaceAtOnce, rollBack, workspaceSetting } from "./workspace-tx";

/**
 * How many messages of reads one pool has on its way to Postgres at once. While they are out,
 * the reads that come in wait and go together in the next message: under load each message
 * carries many reads, and a lone read still leaves at once.
 */
const READS_IN_FLIGHT = 2;
/** The most reads one message carries. */
const READS_PER_MESSAGE = 32;

/** Each read is four statements in its message, answered by four results with these commands; the third is the read's. */
const COMMANDS_OF_A_READ = ["BEGIN", "SET", undefined, "COMMIT"] as const;
const READ_RESULT_INDEX = 2;
/** SQLSTATE classes that say the server, not the statement, failed: 08 connection exception, 53 insufficient resources, 57 operator intervention (a timeout, a shutdown). */
const NOT_A_STATEMENT = /^(08|53|57)/;
/** A statement that tried to write in a read-only transaction. */
const READ_ONLY_VIOLATION = "25006";

interface PendingRead {
  /** The statement that sets the read's workspace. */
  setting: string;
  statement: string;
  resolve: (rows: unknown[]) => void;
  reject: (error: unknown) => void;
}

/**
 * One statement that only reads, in a read-only workspace transaction of its own, under
 * row-level security exactly as `inWorkspaceAtOnce`: answers its rows.
 *
 * Reads of the same pool that arrive while earlier ones are on their way to Postgres are sent
 * together: one message of the simple query protocol carrying, for each read, `begin read
 * only`, its workspace setting, its statement and `commit`. Each read is still its own
 * transaction, with its own workspace set for it alone; the message saves the socket writes
 * and the wake-ups of Postgres that each read would cost alone, which on a busy machine cost
 * more than the reads (docs/decisions/0035-reads-sent-together.md).
 *
 * When a statement fails, Postgres skips the rest of its message: the message's reads are then
 * sent again one at a time, in the same slot, so that only a read that fails alone fails. When
 * the connection, the login or the server failed instead, every read of the message fails with
 * that error, and nothing is sent again. A statement whose parameters cannot be written as
 * literals goes alone through `inWorkspaceAtOnce`, read-only too. A statement that would write
 * fails as a bug of its caller, not as an outage.
 */
export async function readInWorkspace<DB, R>(db: Kysely<DB>, workspaceId: string, query: CompiledQuery<R>): Promise<R[]> {
  const pool = poolOf(db);
  if (!pool) throw new Error("a workspace read needs a database handle made by createDb and not destroyed");
  const statement = inlineParameters(query.sql, query.parameters);
  if (statement === undefined) {
    return inWorkspaceAtOnce(db, workspaceId, query, { readOnly: true }).catch((error: unknown) => {
      throw asCallersBug(error);
    });
  }
  const setting = workspaceSetting(workspaceId);
  const rows = await readsOf(pool).read(setting, statement);
  // The rows are the statement's, typed as Kysely types them: what the compiled query selects.
  return rows as R[];
}

const READS = new WeakMap<pg.Pool, WorkspaceReads>();

function readsOf(pool: pg.Pool): WorkspaceReads {
  let reads = READS.get(pool);
  if (!reads) {
    reads = new WorkspaceReads(pool);
    READS.set(pool, reads);
  }
  return reads;
}

/** The reads of one pool: waiting, and how many messages of them are out. */
class WorkspaceReads {
  private waiting: PendingRead[] = [];
  private inFlight = 0;

  constructor(private readonly pool: pg.Pool) {}

  read(setting: string, statement: string): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ setting, statement, resolve, reject });
      this.sendWaiting();
    });
  }

  private sendWaiting(): void {
    while (this.inFlight < READS_IN_FLIGHT && this.waiting.length > 0) {
      const reads = this.waiting.splice(0, READS_PER_MESSAGE);
      this.inFlight += 1;
      void this.send(reads).finally(() => {
        this.inFlight -= 1;
        this.sendWaiting();
      });
    }
  }

  /** Sends `reads` in one message; when a statement failed, each alone, one after the other. Settles every read. */
  private async send(reads: PendingRead[]): Promise<void> {
    try {
      const answers = await this.sendMessage(reads);
      reads.forEach((read, i) => read.resolve(answers[i] as unknown[]));
    } catch (error) {
      if (reads.length === 1 || !statementFailed(error)) {
        const failure = asCallersBug(error);
        for (const read of reads) read.reject(failure);
        return;
      }
      for (const read of reads) await this.send([read]);
    }
  }

  /** The rows of each read, in order. */
  private async sendMessage(reads: PendingRead[]): Promise<unknown[][]> {
    // A connection that cannot be had (Postgres down, a login refused: no error of severity ERROR) fails the message as it is.
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      // The newline before each `;` ends a statement even after a comment at its end.
      const text = reads.map((read) => `begin read only;\n${read.setting};\n${read.statement}\n;\ncommit`).join(";\n");
      const results: unknown = await client.query(text);
      // A read that is not one statement answers out of shape: the message's reads are then sent one at a time.
      return answersOf(Array.isArray(results) ? results : [results], reads.length);
    } catch (error) {
      // A failed statement leaves its transaction open and aborted.
      broken = await rollBack(client);
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

/** Each read's rows, after checking that every read answered as its four statements should. */
function answersOf(results: unknown[], reads: number): unknown[][] {
  if (results.length !== reads * COMMANDS_OF_A_READ.length) throw new OutOfShape(`Postgres answered ${results.length} results for ${reads} reads`);
  const answers: unknown[][] = [];
  results.forEach((result, i) => {
    const expected = COMMANDS_OF_A_READ[i % COMMANDS_OF_A_READ.length];
    const { command, rows } = typeof result === "object" && result !== null ? (result as { command?: unknown; rows?: unknown }) : {};
    if (expected !== undefined && command !== expected) throw new OutOfShape(`Postgres answered ${String(command)} where a read's ${expected} was expected`);
    if (i % COMMANDS_OF_A_READ.length !== READ_RESULT_INDEX) return;
    if (!Array.isArray(rows)) throw new OutOfShape("Postgres answered a read without rows");
    answers.push(rows);
  });
  return answers;
}

/** A message whose results do not have the shape of its reads: one of them was not one statement. */
class OutOfShape extends Error {}

/**
 * Whether a statement of the message failed (an error of severity ERROR from Postgres, or
 * results out of shape), rather than the connection, the login or the server: only then is
 * sending the reads again one at a time worth it.
 */
function statementFailed(error: unknown): boolean {
  if (error instanceof OutOfShape) return true;
  return error instanceof pg.DatabaseError && error.severity === "ERROR" && typeof error.code === "string" && !NOT_A_STATEMENT.test(error.code);
}

/**
 * A write refused in a read-only transaction is a bug of the caller's, which Galaxy would
 * otherwise take for a standby's refusal during a failover and retry as an outage.
 */
function asCallersBug(error: unknown): unknown {
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
  if (code !== READ_ONLY_VIOLATION || !(error instanceof Error)) return error;
  return new Error(`a read sent a statement that writes: ${error.message}`);
}
