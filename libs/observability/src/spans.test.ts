import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { inSpan, SpanKind, traceparentOf, startSpan } from "./tracing";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
});

afterAll(async () => {
  await provider.shutdown();
  trace.disable();
});

describe("spans continue the trace of the message or request that caused them", () => {
  test("inSpan records a child of the incoming traceparent and hands its own ids onward", async () => {
    exporter.reset();
    const onward = await inSpan("svc.registry.agents.create", parent, SpanKind.SERVER, { "galaxy.operation": "registry.agents.create" }, async (tp) => tp);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe("svc.registry.agents.create");
    expect(span?.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(span?.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(onward).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${span?.spanContext().spanId}-01`);
  });

  test("a failure is recorded on the span and still thrown", async () => {
    exporter.reset();
    await expect(inSpan("apply agent.created", parent, SpanKind.CONSUMER, {}, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(2);
    expect(span?.events.some((e) => e.name === "exception")).toBe(true);
  });

  test("without a parent, the span starts a new trace", async () => {
    const span = startSpan("GET /api/agents", undefined, SpanKind.SERVER);
    const tp = traceparentOf(span, undefined);
    span.end();
    expect(tp.split("-")[1]).toBe(span.spanContext().traceId);
    expect(tp.split("-")[1]).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });
});
