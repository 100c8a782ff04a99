import { describe, expect, test } from "vitest";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { currentTraceparent, inSpan, startSpan, traceHeadersOf, traceIdOf, traceparentOf } from "./tracing";
import { telemetryConfigured } from "./telemetry";
import { serviceOfEntry } from "./service-entry";

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("traceIdOf", () => {
  test("reads the trace id of a W3C traceparent", () => {
    expect(traceIdOf(parent)).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  test.each([
    ["garbage", "not-a-traceparent"],
    ["upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"],
    ["a short trace id", "00-4bf92f3577b34da6-00f067aa0ba902b7-01"],
    ["extra parts", `${parent}-extra`],
    ["an all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
    ["an empty string", ""],
  ])("refuses %s", (_name, value) => {
    expect(traceIdOf(value)).toBeNull();
  });
});

// No SDK runs in this file: the API is the no-op one, as in a service without an exporter.
describe("without an SDK, the incoming trace passes on unchanged and none is made up", () => {
  test("a span continuing a traceparent hands that same traceparent onward", async () => {
    expect(await inSpan("process agent.created", { traceparent: parent }, {}, async (tp) => tp)).toBe(parent);
  });

  test("with no parent there is no traceparent to send", async () => {
    expect(await inSpan("publish agent.created", { traceparent: undefined }, {}, async (tp) => tp)).toBeUndefined();
    const span = startSpan("GET /api/agents", undefined);
    expect(traceparentOf(span)).toBeUndefined();
    expect(currentTraceparent()).toBeUndefined();
  });

  test("a malformed traceparent is no parent", async () => {
    expect(await inSpan("process agent.created", { traceparent: "00-zz-yy-01" }, {}, async (tp) => tp)).toBeUndefined();
  });

  test("tracestate is kept beside the traceparent it came with", () => {
    const span = startSpan("process agent.created", { traceparent: parent, tracestate: "vendor=abc" });
    expect(traceHeadersOf(trace.setSpan(ROOT_CONTEXT, span))).toEqual({ traceparent: parent, tracestate: "vendor=abc" });
  });
});

describe("telemetryConfigured", () => {
  test.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "" }, false],
  ])("%j → %s", (env, expected) => {
    expect(telemetryConfigured(env)).toBe(expected);
  });
});

describe("serviceOfEntry", () => {
  test.each([
    ["/app/dist/gateway/main.js", "gateway"],
    ["/tmp/galaxy-build/execution-worker/main.js", "execution-worker"],
    ["/work/galaxy/services/agent-registry/src/main.ts", "agent-registry"],
    ["/work/galaxy/scripts/setup.ts", undefined],
    [undefined, undefined],
  ])("%s → %s", (entry, service) => {
    expect(serviceOfEntry(entry)).toBe(service);
  });
});
