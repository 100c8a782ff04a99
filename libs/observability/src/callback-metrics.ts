import { Counter, type Registry } from "prom-client";

/** How a completion-callback attempt ended: delivered, failed with a retry scheduled, or given up. */
export type CallbackOutcome = "delivered" | "retrying" | "given_up";

const byRegistry = new WeakMap<Registry, Counter<"outcome">>();

/** `galaxy_callback_deliveries_total{outcome}` in `registry`, created on first use. */
export function callbackDeliveries(registry: Registry): Counter<"outcome"> {
  const known = byRegistry.get(registry);
  if (known) return known;
  const counter = new Counter({ name: "galaxy_callback_deliveries_total", help: "Completion-callback attempts by outcome (delivered, retrying, given_up)", labelNames: ["outcome"], registers: [registry] });
  byRegistry.set(registry, counter);
  return counter;
}

export function callbackOutcome(outcome: { status: string; retryAt: Date | null }): CallbackOutcome {
  if (outcome.status === "delivered") return "delivered";
  return outcome.retryAt === null ? "given_up" : "retrying";
}
