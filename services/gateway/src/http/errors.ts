import type { FastifyError, FastifyInstance } from "fastify";
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from "fastify-type-provider-zod";
import { ERROR_TITLES, GalaxyError, type ErrorBody, type ErrorStatus } from "@galaxy/contracts";

/** Fastify's own failures that are the caller's fault, and how each is told. */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: ErrorStatus; code: string; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: "malformed_json", message: "The body is not valid JSON" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: "malformed_json", message: "The body is empty; send a JSON object" },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: "payload_too_large", message: "The body is larger than 1 MiB" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 400, code: "unsupported_media_type", message: "Send JSON with `content-type: application/json`" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: "bad_content_length", message: "Content-Length does not match the body" },
};

function body(status: ErrorStatus, code: string, message: string, details?: Record<string, string>): ErrorBody {
  return { error: ERROR_TITLES[status], code, message, ...(details ? { details } : {}) };
}

/** Every error leaves in the CONTRACT §1 format; bad input is a 4xx, never a 500. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof GalaxyError) {
      if (error.status >= 500) request.log.warn({ err: error }, "request failed");
      // A service that knows when to come back says so in `details.retryAfter` (seconds).
      const retryAfter = error.details?.retryAfter;
      if (error.status === 429 && !reply.hasHeader("retry-after")) reply.header("retry-after", retryAfter && /^\d+$/.test(retryAfter) ? retryAfter : "1");
      return reply.status(error.status).send(error.toBody());
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const details: Record<string, string> = {};
      const where: string = error.validationContext ?? "body";
      for (const issue of error.validation) {
        const path = issue.instancePath.replace(/^\//, "").replaceAll("/", ".");
        details[path ? `${where}.${path}` : where] ??= issue.message ?? "is invalid";
      }
      return reply.status(400).send(body(400, "validation_failed", `The request ${where} is invalid`, details));
    }
    if (isResponseSerializationError(error)) {
      request.log.error({ err: error }, "response did not match its schema");
      return reply.status(500).send(body(500, "internal_error", "Something went wrong on our side"));
    }
    const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined;
    if (known) return reply.status(known.status).send(body(known.status, known.code, known.message));
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      const status: ErrorStatus = error.statusCode === 413 ? 413 : error.statusCode === 404 ? 404 : 400;
      return reply.status(status).send(body(status, "bad_request", error.message));
    }
    request.log.error({ err: error }, "unhandled error");
    return reply.status(500).send(body(500, "internal_error", "Something went wrong on our side"));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(body(404, "route_not_found", `No route ${request.method} ${request.url.split("?")[0]}`));
  });
}
