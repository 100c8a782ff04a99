import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from "fastify-type-provider-zod";
import { ERROR_TITLES, GalaxyError, UNRETRYABLE_UNAVAILABLE_CODES, type ErrorBody, type ErrorStatus } from "@galaxy/contracts";
import { classifyGatewayFailure } from "./failure-kind";

interface KnownError {
  status: ErrorStatus;
  code: string;
  message: string;
  details?: Record<string, string>;
}

/** A body shorter or longer than its `Content-Length`, or cut off by a client that left. */
const BAD_CONTENT_LENGTH: KnownError = { status: 400, code: "bad_content_length", message: "Content-Length does not match the body" };

/** Fastify's own failures that are the caller's fault, and how each is told (docs/errors.md). */
const FASTIFY_CLIENT_ERRORS: Record<string, KnownError> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: "malformed_json", message: "The body is not valid JSON" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: "malformed_json", message: "The body is empty; send a JSON object" },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: "payload_too_large", message: "The body is larger than 1 MiB" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: "unsupported_media_type",
    message: "Send the body as JSON with `content-type: application/json`",
    details: { "headers.content-type": "must be application/json" },
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: BAD_CONTENT_LENGTH,
  FST_ERR_BAD_URL: { status: 400, code: "bad_url", message: "The URL is not valid (a bad percent-encoding?)" },
  FST_ERR_INVALID_URL: { status: 400, code: "bad_url", message: "The URL is not valid" },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: "uri_too_long", message: "A path segment is longer than any Galaxy id" },
  FST_ERR_NOT_FOUND: { status: 404, code: "route_not_found", message: "No such route" },
};

/** How long a caller should wait before retrying a 503 (seconds) when nothing better is known. */
export const UNAVAILABLE_RETRY_AFTER_S = 2;

function body(status: ErrorStatus, code: string, message: string, details?: Record<string, string>): ErrorBody {
  return { error: ERROR_TITLES[status], code, message, ...(details ? { details } : {}) };
}

function isErrorStatus(status: number): status is ErrorStatus {
  return Object.hasOwn(ERROR_TITLES, status);
}

/**
 * The `Retry-After` a 429 or 503 says: the service's own `details.retryAfter` (seconds), or a
 * default. A 503 that waiting cannot cure (a configuration to fix) says none.
 */
function setRetryAfter(reply: FastifyReply, status: number, error: ErrorBody): void {
  if ((status !== 429 && status !== 503) || reply.hasHeader("retry-after") || UNRETRYABLE_UNAVAILABLE_CODES.has(error.code)) return;
  const retryAfter = error.details?.retryAfter;
  reply.header("retry-after", retryAfter && /^\d+$/.test(retryAfter) ? retryAfter : String(status === 503 ? UNAVAILABLE_RETRY_AFTER_S : 1));
}

function sendError(reply: FastifyReply, status: ErrorStatus, error: ErrorBody): FastifyReply {
  setRetryAfter(reply, status, error);
  return reply.status(status).send(error);
}

/** What a schema refused, in words; `details` names each field under the same part (`body.name`, `params.id`…). */
const INVALID_PART: Readonly<Record<string, string>> = {
  body: "The request body is invalid",
  params: "The path's parameters are invalid",
  querystring: "The query string is invalid",
  headers: "The request headers are invalid",
};

// The request's own fault found late (a stack overflow, a value Postgres refused): which value is not known here.
const INVALID_VALUE = body(400, "invalid_value", "A value in the request cannot be processed or stored (nested too deeply, a NUL character, out of range)");
const UNAVAILABLE = body(503, "service_unavailable", "A service Galaxy depends on is unavailable for a moment; retry with the same Idempotency-Key");
const INTERNAL = body(500, "internal_error", "Something went wrong on our side");

/**
 * Every error leaves in the one documented shape (docs/errors.md): bad input is a 4xx, an
 * engine outage a 503 with `Retry-After`, and only a bug a 500.
 */
export function renderError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof GalaxyError) {
    // A service that could not even be asked because the request overflowed the stack (say,
    // while serialising it) was not unavailable: the request is at fault, and a retry never helps.
    if (error.status === 503 && error.cause !== undefined && classifyGatewayFailure(error.cause) === "input") return sendError(reply, 400, INVALID_VALUE);
    if (error.status >= 500) request.log.warn({ err: error }, "request failed");
    return sendError(reply, error.status, error.toBody());
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details: Record<string, string> = {};
    const where: string = error.validationContext ?? "body";
    for (const issue of error.validation) {
      const path = issue.instancePath.replace(/^\//, "").replaceAll("/", ".");
      details[path ? `${where}.${path}` : where] ??= issue.message ?? "is invalid";
    }
    return sendError(reply, 400, body(400, "validation_failed", INVALID_PART[where] ?? "The request is invalid", details));
  }
  if (isResponseSerializationError(error)) {
    request.log.error({ err: error }, "response did not match its schema");
    return sendError(reply, 500, INTERNAL);
  }
  // A client that went away before its body ended: its fault, not an engine's, and no one reads the answer.
  const cutOff = !request.raw.complete && request.raw.readableAborted;
  if (cutOff) request.log.info({ err: error }, "the client left before its body ended");
  const known = cutOff ? BAD_CONTENT_LENGTH : error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined;
  if (known) return sendError(reply, known.status, body(known.status, known.code, known.message, known.details));
  const kind = classifyGatewayFailure(error);
  if (kind === "input") return sendError(reply, 400, INVALID_VALUE);
  if (kind === "engine") {
    request.log.warn({ err: error }, "an engine is unavailable");
    return sendError(reply, 503, UNAVAILABLE);
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    // Any other refusal of Fastify's: its status, our shape.
    const status: ErrorStatus = isErrorStatus(error.statusCode) ? error.statusCode : 400;
    return sendError(reply, status, body(status, "bad_request", error.message));
  }
  request.log.error({ err: error }, "unhandled error");
  return sendError(reply, 500, INTERNAL);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(renderError);
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(body(404, "route_not_found", `No route ${request.method} ${request.url.split("?")[0]}`));
  });
}

/**
 * Node's HTTP parser refuses a request before Fastify sees it (headers over 16 KiB, bytes that
 * are not HTTP, a client too slow): the answer is still JSON in the documented shape.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const known: KnownError =
    error.code === "HPE_HEADER_OVERFLOW"
      ? { status: 431, code: "headers_too_large", message: "The request line and headers are larger than 16 KiB" }
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? { status: 408, code: "request_timeout", message: "The request was not received in time" }
        : { status: 400, code: "malformed_request", message: "The request is not valid HTTP/1.1" };
  const json = JSON.stringify(body(known.status, known.code, known.message));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`);
  }
  socket.destroy(error);
}
