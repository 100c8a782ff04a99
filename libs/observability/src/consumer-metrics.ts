import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Why a message became a dead letter, as the `galaxy_bus_dead_letters_total` label says it. */
export type DeadLetterCause = "terminal" | "unknown" | "forged" | "poison";

/** What a bus consumer reports while it works (docs/bus.md, "Metrics"). */
export interface ConsumerMetrics {
  /** Consecutive transient failures of the message a consumer holds: above 0, an engine is down and the consumer waits. */
  transientFailures: Gauge<"consumer">;
  /** Messages handed to the handler again: retries in place and JetStream redeliveries. */
  redeliveries: Counter<"consumer">;
  deadLetters: Counter<"consumer" | "cause">;
  /** How long an event waited in JetStream before its first delivery to a consumer (the audit consumer's is the audit ingest lag). */
  eventAge: Histogram<"consumer">;
  /** Messages not yet acknowledged (waiting and in hand), read from JetStream at each scrape. */
  lag: Gauge<"consumer">;
  /** Tells the lag gauge how to read one consumer's lag; the returned function stops it. */
  watchLag(consumer: string, read: () => Promise<number>): () => void;
}

const byRegistry = new WeakMap<Registry, ConsumerMetrics>();

/**
 * The consumer metrics in `registry`, created on first use: every bus connection of a process
 * that shares a registry shares them (each consumer is one label value).
 */
export function consumerMetrics(registry: Registry): ConsumerMetrics {
  const known = byRegistry.get(registry);
  if (known) return known;
  const lagReaders = new Map<string, () => Promise<number>>();
  const lag = new Gauge({
    name: "galaxy_bus_consumer_lag",
    help: "Events of a durable consumer not yet acknowledged (pending and in hand)",
    labelNames: ["consumer"],
    registers: [registry],
    async collect() {
      await Promise.all(
        [...lagReaders].map(async ([consumer, read]) => {
          try {
            this.set({ consumer }, await read());
          } catch {
            // JetStream did not answer (it may be the outage): the last value stands.
          }
        }),
      );
    },
  });
  const metrics: ConsumerMetrics = {
    transientFailures: new Gauge({
      name: "galaxy_bus_consumer_transient_failures",
      help: "Consecutive transient failures (an engine unreachable) of the event a consumer is retrying; 0 when it is not",
      labelNames: ["consumer"],
      registers: [registry],
    }),
    redeliveries: new Counter({
      name: "galaxy_bus_consumer_redeliveries_total",
      help: "Events handed to a consumer's handler again, after a failure or a redelivery by JetStream",
      labelNames: ["consumer"],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "galaxy_bus_dead_letters_total",
      help: "Events a consumer wrote to DEAD_LETTERS, by cause (terminal, unknown, forged, poison)",
      labelNames: ["consumer", "cause"],
      registers: [registry],
    }),
    eventAge: new Histogram({
      name: "galaxy_bus_event_age_seconds",
      help: "Time from JetStream storing an event to its first delivery to a consumer",
      labelNames: ["consumer"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    lag,
    watchLag(consumer, read) {
      lagReaders.set(consumer, read);
      return () => {
        if (lagReaders.get(consumer) === read) lagReaders.delete(consumer);
      };
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
