import { afterEach, describe, expect, test } from "vitest";
import { Counter } from "prom-client";
import { createMetrics } from "./metrics";
import { startOpsServer, type OpsServer } from "./ops-server";

let server: OpsServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(readiness: () => Promise<Record<string, boolean>>): Promise<string> {
  const metrics = createMetrics("ops-test");
  new Counter({ name: "galaxy_test_events_total", help: "events seen by the test", registers: [metrics] }).inc(3);
  server = await startOpsServer({ port: 0, metrics, readiness });
  return `http://127.0.0.1:${server.port}`;
}

describe("ops server", () => {
  test("/health/live answers 200 whatever the dependencies say", async () => {
    const base = await start(async () => ({ database: false }));
    const res = await fetch(`${base}/health/live`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  test("/health/ready answers 200 when every check is true", async () => {
    const base = await start(async () => ({ database: true, bus: true }));
    const res = await fetch(`${base}/health/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { database: true, bus: true } });
  });

  test("/health/ready answers 503 and names the failing check when one is false", async () => {
    const base = await start(async () => ({ database: true, bus: false }));
    const res = await fetch(`${base}/health/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "not_ready", checks: { database: true, bus: false } });
  });

  test("/health/ready answers 503 when the readiness check itself fails", async () => {
    const base = await start(async () => {
      throw new Error("pool exhausted");
    });
    const res = await fetch(`${base}/health/ready`);
    expect(res.status).toBe(503);
    expect(JSON.stringify(await res.json())).not.toContain("pool exhausted");
  });

  test("/metrics answers Prometheus text with the service's metrics and label", async () => {
    const base = await start(async () => ({}));
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain("# TYPE galaxy_test_events_total counter");
    expect(text).toMatch(/galaxy_test_events_total\{service="ops-test"\} 3/);
    expect(text).toContain("process_cpu_seconds_total");
  });

  test("an unknown path is a 404 in the API's error shape", async () => {
    const base = await start(async () => ({}));
    const res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "Not Found", code: "route_not_found" });
  });

  test("close stops listening", async () => {
    const base = await start(async () => ({}));
    await server?.close();
    server = undefined;
    await expect(fetch(`${base}/health/live`)).rejects.toThrow();
  });
});
