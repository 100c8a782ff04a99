import { z } from "zod";

/** The HTTP error body of docs/api.md. */
export const ErrorBody = z.object({
  error: z.string(),
  code: z.string().regex(/^[a-z][a-z0-9_]*$/),
  message: z.string(),
  details: z.record(z.string(), z.string()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export const ERROR_TITLES = {
  400: "Validation Error",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
} as const;
export type ErrorStatus = keyof typeof ERROR_TITLES;
export const ErrorStatus = z.union([
  z.literal(400), z.literal(401), z.literal(403), z.literal(404), z.literal(408), z.literal(409),
  z.literal(413), z.literal(414), z.literal(415), z.literal(429), z.literal(431), z.literal(500), z.literal(503),
]);

/**
 * A failure with a stable machine `code` and the HTTP status it maps to.
 * Services throw these; the bus carries them in replies; the gateway renders them.
 */
export class GalaxyError extends Error {
  readonly code: string;
  readonly status: ErrorStatus;
  readonly details: Record<string, string> | undefined;
  /** Infrastructure failures are retried; everything else is terminal. */
  readonly retryable: boolean;

  constructor(status: ErrorStatus, code: string, message: string, options: { cause?: unknown; details?: Record<string, string>; retryable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = "GalaxyError";
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.retryable = options.retryable ?? status === 503;
  }

  toBody(): ErrorBody {
    return { error: ERROR_TITLES[this.status], code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export class ValidationError extends GalaxyError {
  constructor(message: string, details?: Record<string, string>, code = "validation_failed") {
    super(400, code, message, details ? { details } : {});
    this.name = "ValidationError";
  }
}

export class UnauthorizedError extends GalaxyError {
  constructor(message = "Missing or invalid credentials", code = "unauthorized") {
    super(401, code, message);
    this.name = "UnauthorizedError";
  }
}

export class ForbiddenError extends GalaxyError {
  constructor(message = "Your role does not allow this", code = "forbidden") {
    super(403, code, message);
    this.name = "ForbiddenError";
  }
}

export class NotFoundError extends GalaxyError {
  constructor(resource: string, id?: string, code = `${resource.replace(/[^a-z0-9]+/gi, "_").toLowerCase()}_not_found`) {
    super(404, code, id ? `No ${resource} ${id} in this workspace` : `No such ${resource}`);
    this.name = "NotFoundError";
  }
}

export class ConflictError extends GalaxyError {
  constructor(code: string, message: string) {
    super(409, code, message);
    this.name = "ConflictError";
  }
}

/** A body in a media type the route does not read (anything but JSON on `/api/*` and `/hooks/*`). */
export class UnsupportedMediaTypeError extends GalaxyError {
  constructor(message = "Send the body as JSON with `content-type: application/json`") {
    super(415, "unsupported_media_type", message, { details: { "headers.content-type": "must be application/json" } });
    this.name = "UnsupportedMediaTypeError";
  }
}

export class UnavailableError extends GalaxyError {
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(503, options.code ?? "service_unavailable", message, { cause: options.cause, retryable: true });
    this.name = "UnavailableError";
  }
}

/** Turns zod issues into docs/api.md `details`: each bad field path to its message. */
export function issueDetails(error: z.ZodError, prefix = ""): Record<string, string> {
  const details: Record<string, string> = {};
  for (const issue of error.issues) {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".") || "(root)";
    details[path] ??= issue.message;
  }
  return details;
}

/** Parses outside data, throwing a 400 `ValidationError` that names every bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what = "request"): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(`The ${what} is invalid`, issueDetails(result.error));
  return result.data;
}
