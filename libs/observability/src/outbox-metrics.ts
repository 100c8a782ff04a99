import { Gauge, type Registry } from "prom-client";

const byRegistry = new WeakMap<Registry, Gauge>();

/**
 * `galaxy_outbox_backlog`: committed events the relay's last sweep found still unpublished
 * (older than the sweep age). The sweep reads them anyway, so the gauge costs no query; above
 * 0 for long, the bus is refusing events (docs/operations.md, "GalaxyOutboxBacklog").
 */
export function outboxBacklog(registry: Registry): Gauge {
  const known = byRegistry.get(registry);
  if (known) return known;
  const gauge = new Gauge({ name: "galaxy_outbox_backlog", help: "Committed events left unpublished past the sweep age, as the outbox relay's last sweep found them", registers: [registry] });
  byRegistry.set(registry, gauge);
  return gauge;
}
