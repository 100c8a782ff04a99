import { Writable } from "node:stream";
import { describe, expect, test as base } from "vitest";
import { context, ROOT_CONTEXT, trace, TraceFlags, type Context, type ContextManager } from "@opentelemetry/api";
import { createLogger } from "./logger";
import { traceFields } from "./log-trace";

/** The smallest context manager: `with` makes a context active for the synchronous call. */
class StackContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;
  active(): Context {
    return this.current;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const previous = this.current;
    this.current = ctx;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

const SPAN = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: TraceFlags.SAMPLED };

/** `contextManager`: a `StackContextManager` registered globally for the file, unregistered after its last test. */
const test = base.extend("contextManager", { scope: "file" }, async ({}, { onCleanup }): Promise<StackContextManager> => {
  const contextManager = new StackContextManager();
  context.setGlobalContextManager(contextManager);
  onCleanup(() => {
    context.disable();
  });
  return contextManager;
});
// The context manager is global: every test runs with it, whichever fixtures it names.
test.beforeAll(async ({ contextManager }) => {
  void contextManager;
});

describe("log lines inside a span", () => {
  test("carry the span's trace_id and span_id; outside a span, neither", () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ service: "test", level: "info", destination });
    context.with(trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext(SPAN)), () => logger.info("inside"));
    logger.info("outside");
    expect(lines[0]).toMatchObject({ msg: "inside", trace_id: SPAN.traceId, span_id: SPAN.spanId });
    expect(lines[1]?.msg).toBe("outside");
    expect(lines[1]).not.toHaveProperty("trace_id");
  });

  test("an invalid span context (all zeros) names no trace", () => {
    expect(traceFields(trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ ...SPAN, traceId: "0".repeat(32) })))).toEqual({});
    expect(traceFields(ROOT_CONTEXT)).toEqual({});
  });
});
