import { sql, type Kysely } from "@galaxy/db";
import { Gauge, type Logger, type Registry } from "@galaxy/observability";
import type { ExecutionDb } from "../db";
import { Tier } from "../quota/tiers";

/**
 * `galaxy_executions_queue_depth{tier}`: executions waiting in the queue across every workspace, by
 * the tier of their workspace (docs/operations.md, "Metrics"). One count on the partial index
 * of queued rows (the security-definer `queued_executions_by_tier`, operators' system-wide
 * view) every `intervalMs`, whatever the claim loop is doing: a worker that is full claims
 * nothing, and that is when the queue grows.
 */
export class QueueDepth {
  private readonly gauge: Gauge;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<ExecutionDb>,
    registry: Registry,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {
    this.gauge = queuedGauge(registry);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
    void this.refresh();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Counts once (a count still running is not started again). */
  async refresh(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.count().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async count(): Promise<void> {
    try {
      const { rows } = await sql<{ tier: string; queued: string }>`select tier, queued from queued_executions_by_tier()`.execute(this.db);
      const byTier = new Map(rows.map((row) => [row.tier, Number(row.queued)]));
      for (const tier of Tier.options) this.gauge.set({ tier }, byTier.get(tier) ?? 0);
    } catch (error) {
      // The gauge keeps its last value; the database alert tells the rest.
      this.logger.warn({ err: error }, "could not count the queued executions");
    }
  }
}

const byRegistry = new WeakMap<Registry, Gauge>();

function queuedGauge(registry: Registry): Gauge {
  const known = byRegistry.get(registry);
  if (known) return known;
  const gauge = new Gauge({ name: "galaxy_executions_queue_depth", help: "Executions waiting in the queue across every workspace, by the tier of their workspace", labelNames: ["tier"], registers: [registry] });
  byRegistry.set(registry, gauge);
  return gauge;
}
