import type { FastifyInstance, FastifyRequest } from "fastify";
import { SpanKind, startSpan, traceparentOf, type Span } from "@galaxy/observability";
import type { RequestOptions } from "@galaxy/bus";
import type { Principal } from "../auth/principal";

declare module "fastify" {
  interface FastifyRequest {
    /** The W3C trace context this request runs in (incoming, or a new root). */
    traceparent: string;
    /** The request's span (records only when an exporter is configured). */
    span: Span | null;
  }
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Every response carries `x-request-id` and `traceparent` (docs/api.md). */
export function installRequestContext(app: FastifyInstance): void {
  app.decorateRequest("traceparent", "");
  app.decorateRequest("span", null);
  app.addHook("onRequest", async (request, reply) => {
    const incoming = request.headers.traceparent;
    const parent = typeof incoming === "string" && TRACEPARENT.test(incoming) ? incoming : undefined;
    request.span = startSpan(`${request.method} ${request.routeOptions.url ?? "unmatched"}`, parent, SpanKind.SERVER, { "http.request.method": request.method });
    request.traceparent = traceparentOf(request.span, parent);
    reply.header("x-request-id", request.id);
    reply.header("traceparent", request.traceparent);
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
