import type { FastifyInstance, FastifyRequest } from "fastify";
import { context, SpanKind, startSpan, trace, traceparentOf, type Span } from "@galaxy/observability";
import type { RequestOptions } from "@galaxy/bus";
import type { Principal } from "../auth/principal";

declare module "fastify" {
  interface FastifyRequest {
    /** The request's span, for what it sends on; absent when no trace runs (docs/operations.md, "Tracing"). */
    traceparent: string | undefined;
    /** The request's span (records only when an exporter is configured). */
    span: Span | null;
  }
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Every response carries `x-request-id`, and `traceparent` when the request runs in a trace
 * (docs/api.md): the one the caller sent, continued, or the one tracing started. With tracing
 * on, the HTTP instrumentation's span is active here and the request's span is its child.
 */
export function installRequestContext(app: FastifyInstance): void {
  app.decorateRequest("traceparent", undefined);
  app.decorateRequest("span", null);
  app.addHook("onRequest", async (request, reply) => {
    const header = request.headers.traceparent;
    const incoming = typeof header === "string" && TRACEPARENT.test(header) ? header : undefined;
    reply.header("x-request-id", request.id);
    if (request.url.startsWith("/health")) {
      // Probes (every few seconds) get no span; a trace they bring passes through.
      request.traceparent = incoming;
      if (incoming) reply.header("traceparent", incoming);
      return;
    }
    const active = trace.getSpanContext(context.active());
    const instrumented = active !== undefined && trace.isSpanContextValid(active);
    const parent = instrumented ? undefined : { traceparent: incoming };
    const attributes = { "http.request.method": request.method, "http.route": request.routeOptions.url ?? "unmatched" };
    request.span = startSpan(`${request.method} ${request.routeOptions.url ?? "unmatched"}`, parent, { kind: instrumented ? SpanKind.INTERNAL : SpanKind.SERVER, attributes });
    request.traceparent = traceparentOf(request.span);
    if (request.traceparent) reply.header("traceparent", request.traceparent);
  });
  app.addHook("onResponse", async (request, reply) => {
    request.span?.setAttribute("http.response.status_code", reply.statusCode);
    request.span?.end();
  });
}

/** The bus request options that carry this HTTP request's identity and trace onward. */
export function busOptions(request: FastifyRequest, principal?: Principal): RequestOptions {
  const userAgent = request.headers["user-agent"];
  return {
    claim: principal?.claim,
    workspaceId: principal?.workspaceId,
    traceparent: request.traceparent,
    correlationId: request.id,
    clientIp: request.ip,
    userAgent: typeof userAgent === "string" ? userAgent : undefined,
  };
}
