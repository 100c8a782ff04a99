import { getEventListeners, setMaxListeners } from "node:events";
import { setImmediate as nextTurn } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, test } from "vitest";
import { linkedAbort } from "./linked-abort";

describe("linkedAbort", () => {
  test("aborts with the reason of the first source that aborts", () => {
    const lease = new AbortController();
    const stop = new AbortController();
    const link = linkedAbort([lease.signal, stop.signal]);
    expect(link.signal.aborted).toBe(false);
    stop.abort(new Error("stopping"));
    lease.abort(new Error("lease lost"));
    expect(link.signal.aborted).toBe(true);
    expect((link.signal.reason as Error).message).toBe("stopping");
  });

  test("is aborted at once when a source already is", () => {
    const cancel = new AbortController();
    cancel.abort(new Error("cancelled"));
    const link = linkedAbort([new AbortController().signal, cancel.signal]);
    expect(link.signal.aborted).toBe(true);
    expect((link.signal.reason as Error).message).toBe("cancelled");
  });

  test("leaves no listener on a long-lived source once released, and no longer follows it", () => {
    // The worker's stop signal lives as long as the worker: every run links to it.
    const stop = new AbortController();
    setMaxListeners(0, stop.signal);
    const links = Array.from({ length: 100 }, () => linkedAbort([stop.signal, new AbortController().signal]));
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(100);
    for (const link of links) link.release();
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
    stop.abort(new Error("stopping"));
    expect(links.some((link) => link.signal.aborted)).toBe(false);
  });

  test("unlinks every source once one has aborted it", () => {
    const stop = new AbortController();
    const timeout = new AbortController();
    linkedAbort([stop.signal, timeout.signal]);
    timeout.abort(new Error("timeout"));
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
  });

  test("a released signal an SDK listened to is garbage, while the source it followed lives on", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const stop = new AbortController();
    setMaxListeners(0, stop.signal);
    const survivors = async (make: () => Run): Promise<number> => {
      const refs = runs(20, make);
      // A WeakRef keeps its target until the job that made it ends.
      await nextTurn();
      gc();
      return refs.filter((ref) => ref.deref() !== undefined).length;
    };
    const linked = (): Run => {
      const link = linkedAbort([stop.signal, new AbortController().signal]);
      return { signal: link.signal, end: () => link.release() };
    };
    expect(await survivors(linked)).toBe(0);
    // Unreleased, each stays: the stop signal holds it through its listener.
    expect(await survivors(() => ({ signal: linkedAbort([stop.signal]).signal, end: () => undefined }))).toBe(20);
    expect(stop.signal.aborted).toBe(false);
  });
});

/** A run's signal, and what the run does with it when it ends. */
interface Run {
  signal: AbortSignal;
  end(): void;
}

/** `count` runs that ended normally, each signal listened to as openai's fetchWithTimeout does (a listener never removed), and held only weakly. */
function runs(count: number, make: () => Run): Array<WeakRef<AbortSignal>> {
  return Array.from({ length: count }, () => {
    const run = make();
    const request = new AbortController();
    run.signal.addEventListener("abort", () => request.abort(), { once: true });
    run.end();
    return new WeakRef(run.signal);
  });
}
