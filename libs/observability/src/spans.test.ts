import { describe, expect, test as base } from "vitest";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { currentTraceparent, inSpan, SpanKind, spanContextOf, startSpan, traceHeadersOf, traceparentOf } from "./tracing";

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/**
 * `exporter`: what the file's spans are exported to, in memory, by a tracer provider registered
 * globally with an async-hooks context manager; both are unregistered, and the provider shut
 * down, after the file's last test.
 */
const test = base.extend("exporter", { scope: "file" }, async ({}, { onCleanup }): Promise<InMemorySpanExporter> => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  onCleanup(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  return exporter;
});
// The provider and context manager are global: every test runs with them, whichever fixtures it names.
test.beforeAll(async ({ exporter }) => {
  void exporter;
});

describe("spans continue the trace of the message or request that caused them", () => {
  test("inSpan records a child of the incoming traceparent and hands its own ids onward", async ({ exporter }) => {
    exporter.reset();
    const onward = await inSpan("serve registry.agents.create", { traceparent: parent }, { kind: SpanKind.SERVER, attributes: { "galaxy.operation": "registry.agents.create" } }, async (tp) => tp);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe("serve registry.agents.create");
    expect(span?.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(span?.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(onward).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${span?.spanContext().spanId}-01`);
  });

  test("tracestate travels with the traceparent", async () => {
    const headers = await inSpan("process agent.created", { traceparent: parent, tracestate: "vendor=abc" }, {}, async () => traceHeadersOf());
    expect(headers.tracestate).toBe("vendor=abc");
  });

  test("inside inSpan the span is active: work without a parent of its own (a database call) becomes its child", async ({ exporter }) => {
    exporter.reset();
    await inSpan("step model_call", { traceparent: parent }, {}, async () => {
      startSpan("pg.query", undefined).end();
    });
    const [child, outer] = exporter.getFinishedSpans();
    expect(child?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
  });

  test("a failure is recorded on the span and still thrown", async ({ exporter }) => {
    exporter.reset();
    await expect(inSpan("process agent.created", { traceparent: parent }, { kind: SpanKind.CONSUMER }, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(2);
    expect(span?.events.some((e) => e.name === "exception")).toBe(true);
  });

  test("headers that name no trace start a new one, with no parent", async ({ exporter }) => {
    exporter.reset();
    const span = startSpan("process agent.created", { traceparent: undefined }, { kind: SpanKind.CONSUMER });
    const tp = traceparentOf(span);
    span.end();
    expect(tp?.split("-")[1]).toBe(span.spanContext().traceId);
    expect(exporter.getFinishedSpans()[0]?.parentSpanContext).toBeUndefined();
  });

  test("a span link names the span of a traceparent", () => {
    expect(spanContextOf(parent)).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" });
    expect(spanContextOf("garbage")).toBeUndefined();
    expect(spanContextOf(undefined)).toBeUndefined();
  });

  test("outside any span there is no traceparent", () => {
    expect(currentTraceparent()).toBeUndefined();
  });
});
