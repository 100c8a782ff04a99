import { Counter, type Registry } from "prom-client";

/** The gateway's routes that start executions, by the trigger type they start them with. */
const INTAKE_ROUTES: Readonly<Record<string, string>> = {
  "POST /hooks/:triggerId": "webhook",
  "POST /api/agents/:id/executions": "manual",
};

const byRegistry = new WeakMap<Registry, Counter<"trigger" | "status">>();

/**
 * Counts an answered request if its route is an intake (`galaxy_intake_requests_total`): what
 * callers sent and what they were told (202 accepted, 401 bad signature, 429 throttled, 503…),
 * including the refusals that never become an execution.
 */
export function observeIntake(registry: Registry, method: string, route: string, status: number): void {
  const trigger = INTAKE_ROUTES[`${method} ${route}`];
  if (!trigger) return;
  let counter = byRegistry.get(registry);
  if (!counter) {
    counter = new Counter({ name: "galaxy_intake_requests_total", help: "Requests that ask for an execution (webhook deliveries, manual runs), by trigger type and HTTP status", labelNames: ["trigger", "status"], registers: [registry] });
    byRegistry.set(registry, counter);
  }
  counter.inc({ trigger, status: String(status) });
}
