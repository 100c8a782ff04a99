/** A signal that aborts when any of its sources does, and a way to undo the link. */
export interface LinkedAbort {
  readonly signal: AbortSignal;
  /** Removes the listeners this link put on its sources; the signal stays as it is. */
  release(): void;
}

/**
 * One signal for a run that aborts, with the first source's reason, when any source does:
 * the lease, the worker's stop, a cancel, the time limit.
 *
 * Not `AbortSignal.any`: on Node 20 a signal it makes that has a listener stays reachable until
 * it aborts, and the OpenAI SDK adds a listener to every request's signal and never removes it
 * (`fetchWithTimeout`). A run that ended normally never aborts its signal, so the worker kept
 * one such signal, with its listeners and their closures, per execution: about 8 MiB over the
 * 3,000 executions of the sustained benchmark, and without bound in production
 * (docs/benchmarks.md, "A leak, and fewer malloc arenas"). Here the sources hold a listener
 * only until `release()`, after which the signal is garbage like any other object. A source
 * that outlives many runs (the worker's stop) holds one listener per run in progress, so its
 * owner lifts Node's warning at ten listeners.
 */
export function linkedAbort(sources: readonly AbortSignal[]): LinkedAbort {
  const controller = new AbortController();
  const aborted = sources.find((source) => source.aborted);
  if (aborted) {
    controller.abort(aborted.reason);
    return { signal: controller.signal, release: () => undefined };
  }
  const unlinks: Array<() => void> = [];
  const release = () => {
    for (const unlink of unlinks.splice(0)) unlink();
  };
  for (const source of sources) {
    const forward = () => {
      release();
      controller.abort(source.reason);
    };
    source.addEventListener("abort", forward, { once: true });
    unlinks.push(() => source.removeEventListener("abort", forward));
  }
  return { signal: controller.signal, release };
}
