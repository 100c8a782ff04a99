import { Counter, Histogram, type Registry } from "prom-client";

/**
 * What the events a service publishes say about the work it does (docs/operations.md,
 * "Metrics"): counted where the bus publishes them, so no pipeline step pays for a metric and
 * an event counted is an event other services saw. Each process publishes its own events, so
 * the worker's registry holds the executions and the gateway's the webhook intake.
 */
export interface EventMetrics {
  observe(envelope: { type: string; data: unknown }): void;
}

const byRegistry = new WeakMap<Registry, EventMetrics>();

const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];

type Fields = Record<string, unknown>;

function fields(value: unknown): Fields {
  return typeof value === "object" && value !== null ? (value as Fields) : {};
}

function text(value: unknown, fallback = "unknown"): string {
  return typeof value === "string" && value.length > 0 ? value : fallback;
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}

/** The event metrics in `registry`, created on first use (one set per registry, as for the consumers'). */
export function eventMetrics(registry: Registry): EventMetrics {
  const known = byRegistry.get(registry);
  if (known) return known;
  const registers = [registry];
  const queued = new Counter({ name: "galaxy_executions_queued_total", help: "Executions accepted, by trigger type (manual, webhook, schedule, replay)", labelNames: ["trigger"], registers });
  const started = new Counter({ name: "galaxy_executions_started_total", help: "Executions a worker started running", registers });
  const finished = new Counter({ name: "galaxy_executions_finished_total", help: "Executions that reached a final status, by status", labelNames: ["status", "trigger"], registers });
  const duration = new Histogram({ name: "galaxy_execution_duration_seconds", help: "Run time of finished executions, by status", labelNames: ["status"], buckets: DURATION_BUCKETS, registers });
  const steps = new Counter({ name: "galaxy_execution_steps_total", help: "Pipeline steps finished, by step and status", labelNames: ["step", "status"], registers });
  const modelLatency = new Histogram({ name: "galaxy_model_call_duration_seconds", help: "Model calls (one round of a conversation) by provider, model and status", labelNames: ["provider", "model", "status"], buckets: DURATION_BUCKETS, registers });
  const tokens = new Counter({ name: "galaxy_model_tokens_total", help: "Tokens used by model calls, by provider, model and direction (input, output)", labelNames: ["provider", "model", "direction"], registers });
  const cost = new Counter({ name: "galaxy_model_cost_usd_total", help: "Estimated cost in USD of model calls, by provider and model", labelNames: ["provider", "model"], registers });
  const executionCost = new Counter({ name: "galaxy_execution_cost_usd_total", help: "Estimated cost in USD of finished executions (all their model calls), by trigger type", labelNames: ["trigger"], registers });
  const toolCalls = new Counter({ name: "galaxy_tool_calls_total", help: "Tool calls by tool and status", labelNames: ["tool", "status"], registers });
  const webhooks = new Counter({ name: "galaxy_webhook_deliveries_accepted_total", help: "Signed webhook deliveries accepted (each queues one execution)", registers });
  const triggerOf = (execution: Fields) => text(fields(execution.trigger).type);

  const metrics: EventMetrics = {
    observe({ type, data }) {
      const d = fields(data);
      switch (type) {
        case "execution.queued":
          queued.inc({ trigger: triggerOf(fields(d.execution)) });
          return;
        case "execution.started":
          started.inc();
          return;
        case "execution.completed":
        case "execution.failed":
        case "execution.cancelled": {
          const execution = fields(d.execution);
          const status = text(execution.status);
          finished.inc({ status, trigger: triggerOf(execution) });
          if (typeof execution.durationMs === "number") duration.observe({ status }, execution.durationMs / 1000);
          executionCost.inc({ trigger: triggerOf(execution) }, count(fields(execution.usage).costUsd));
          return;
        }
        case "execution.step_completed": {
          const step = fields(d.step);
          const name = text(step.name);
          const status = text(step.status);
          const detail = fields(step.detail);
          steps.inc({ step: name, status });
          if (name === "model_call") {
            const labels = { provider: text(detail.provider), model: text(detail.model) };
            if (typeof step.durationMs === "number") modelLatency.observe({ ...labels, status }, step.durationMs / 1000);
            tokens.inc({ ...labels, direction: "input" }, count(detail.inputTokens));
            tokens.inc({ ...labels, direction: "output" }, count(detail.outputTokens));
            // A step's detail carries its cost only when the pipeline priced the call; the
            // execution's total is counted in full at its end (galaxy_execution_cost_usd_total).
            cost.inc(labels, count(detail.costUsd));
          }
          if (name === "tool_call") toolCalls.inc({ tool: text(detail.tool), status });
          return;
        }
        case "webhook.received":
          webhooks.inc();
          return;
        default:
          return;
      }
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
