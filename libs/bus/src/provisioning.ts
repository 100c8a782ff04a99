import { connect, nanos } from "@nats-io/transport-node";
import { jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { DEFAULT_STREAM_SETTINGS, type StreamSettings } from "./config";
import { streamName, type StreamKind } from "./names";
import type { BusResources } from "./resources";
import { isNotFound, sleep } from "./wire";

const DUPLICATE_WINDOW_MS = 120_000;
const DEAD_LETTER_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

/**
 * The replicas to give a stream: the configured number, or more when it already has more. A
 * lower number in one service's configuration (a default of 1 on a cluster of 3) must not
 * take copies away from the events of every service.
 */
export function replicasFor(configured: number, existing: number | undefined): number {
  return existing === undefined ? configured : Math.max(configured, existing);
}

/**
 * Creates (or updates) the `EVENTS` and `DEAD_LETTERS` streams with the configured replicas
 * and storage. Safe to run again and from many services at once. An existing stream keeps its
 * storage (JetStream cannot change it) and never loses replicas.
 */
export async function provision(r: BusResources): Promise<void> {
  const settings: StreamSettings = { ...DEFAULT_STREAM_SETTINGS, ...r.options.streams };
  const streams: Array<{ kind: StreamKind; subjects: string[]; maxAgeMs: number }> = [
    { kind: "EVENTS", subjects: [r.names.subject("evt.>")], maxAgeMs: 0 },
    { kind: "DEAD_LETTERS", subjects: [r.names.subject("dlq.>")], maxAgeMs: DEAD_LETTER_MAX_AGE_MS },
  ];
  for (const stream of streams) {
    const name = r.names.stream(stream.kind);
    const limits = { subjects: stream.subjects, max_age: nanos(stream.maxAgeMs), duplicate_window: nanos(DUPLICATE_WINDOW_MS) };
    const existing = await streamInfo(r, name);
    if (!existing) {
      try {
        await addStream(r, {
          name,
          ...limits,
          retention: RetentionPolicy.Limits,
          storage: settings.storage === "memory" ? StorageType.Memory : StorageType.File,
          num_replicas: settings.replicas,
        });
        continue;
      } catch (error) {
        // Another service created it a moment ago: update it like any existing stream. NATS
        // answers that race either way: the name in use, or its subjects overlapping the
        // stream of that name which now exists (an overlap with another stream is an error).
        const message = error instanceof Error ? error.message : "";
        const raced = /already in use|already exists/i.test(message) || (/subjects overlap/i.test(message) && (await streamInfo(r, name)) !== undefined);
        if (!raced) throw error;
      }
    }
    const current = existing ?? (await r.jsm.streams.info(name));
    const replicas = replicasFor(settings.replicas, current.config.num_replicas);
    if (replicas > settings.replicas) r.logger.info({ stream: name, replicas, configured: settings.replicas }, "the stream keeps its replicas: provisioning never lowers them");
    await r.jsm.streams.update(name, { ...limits, num_replicas: replicas });
  }
}

/** The stream's info, or undefined when there is no stream of that name. */
async function streamInfo(r: BusResources, name: string) {
  return r.jsm.streams.info(name).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
}

/** Attempts at creating a stream whose storage nats-server failed to create. */
const STORE_ATTEMPTS = 3;

/**
 * Adds a stream, trying again (at most three times, 100 ms apart) when nats-server answers that
 * it could not create the stream's storage: nats-server 2.9 removes an account's storage
 * directory once its last stream is deleted, and a stream created at that moment fails with
 * "error creating store for stream" (10077) though nothing is wrong.
 */
async function addStream(r: BusResources, config: Parameters<BusResources["jsm"]["streams"]["add"]>[0]): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await r.jsm.streams.add(config);
      return;
    } catch (error) {
      if (attempt >= STORE_ATTEMPTS || !/error creating store for stream/i.test(error instanceof Error ? error.message : "")) throw error;
      r.logger.warn({ err: error, stream: config.name, attempt }, "nats-server could not create the stream's storage; trying again");
      await sleep(100);
    }
  }
}

/** Deletes a deployment's streams (tests clean up their own prefix with it). */
export async function dropStreams(url: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for (const kind of ["EVENTS", "DEAD_LETTERS"] as const) await jsm.streams.delete(streamName(prefix, kind)).catch(() => false);
  } finally {
    await nc.close();
  }
}
