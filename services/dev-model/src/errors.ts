/** Statuses the fault switch can inject. */
export const FAULT_STATUSES = [429, 500, 503] as const;
export type FaultStatus = (typeof FAULT_STATUSES)[number];

/** A failure the dev model reports to its caller, in whichever provider's error shape the route speaks. */
export class DevModelError extends Error {
  readonly statusCode: number;
  /** OpenAI's `error.code`: a stable machine code, or null where OpenAI sends null. */
  readonly code: string | null;
  /** The request field at fault, as OpenAI's `error.param` names it. */
  readonly param: string | null;

  constructor(statusCode: number, code: string | null, message: string, options: { param?: string | null; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "DevModelError";
    this.statusCode = statusCode;
    this.code = code;
    this.param = options.param ?? null;
  }
}

export class InvalidRequestError extends DevModelError {
  constructor(message: string, options: { param?: string | null; code?: string | null; cause?: unknown } = {}) {
    super(400, options.code ?? null, message, options);
    this.name = "InvalidRequestError";
  }
}

export class ModelNotFoundError extends DevModelError {
  constructor(model: string) {
    super(404, "model_not_found", `The model \`${model}\` does not exist or you do not have access to it.`, { param: "model" });
    this.name = "ModelNotFoundError";
  }
}

export class UnknownRouteError extends DevModelError {
  constructor(method: string, url: string) {
    super(404, null, `Invalid URL (${method} ${url})`);
    this.name = "UnknownRouteError";
  }
}

/** A model call without the key that `requireApiKey` asks for: 401, as a provider answers a bad key. */
export class IncorrectApiKeyError extends DevModelError {
  constructor(presented: string | undefined) {
    super(401, "invalid_api_key", presented ? `Incorrect API key provided: ...${presented.slice(-4)}.` : "You didn't provide an API key.");
    this.name = "IncorrectApiKeyError";
  }
}

/** Thrown when the `failNext` switch is armed: the call fails as a provider outage would. */
export class InjectedFaultError extends DevModelError {
  override readonly statusCode: FaultStatus;
  /** The seconds `retry-after` asks the client to wait (429 and 503). */
  readonly retryAfterS: number;

  constructor(statusCode: FaultStatus, retryAfterS = 0) {
    super(statusCode, statusCode === 429 ? "rate_limit_exceeded" : null, FAULT_MESSAGES[statusCode]);
    this.name = "InjectedFaultError";
    this.statusCode = statusCode;
    this.retryAfterS = retryAfterS;
  }
}

const FAULT_MESSAGES: Record<FaultStatus, string> = {
  429: "Rate limit reached (injected by the dev model's failNext switch).",
  500: "The server had an error while processing your request (injected by the dev model's failNext switch).",
  503: "The server is overloaded (injected by the dev model's failNext switch).",
};

export interface ErrorResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

/** OpenAI's error body: `{error: {message, type, param, code}}`. */
export function openAIErrorResponse(error: unknown): ErrorResponse {
  const { statusCode, code, param, message } = describe(error);
  return {
    statusCode,
    headers: retryHeaders(error, statusCode),
    body: { error: { message, type: openAIErrorType(statusCode), param, code } },
  };
}

/** Anthropic's error body: `{type: "error", error: {type, message}}`. */
export function anthropicErrorResponse(error: unknown): ErrorResponse {
  const { statusCode, message } = describe(error);
  return {
    statusCode,
    headers: retryHeaders(error, statusCode),
    body: { type: "error", error: { type: anthropicErrorType(statusCode), message } },
  };
}

/**
 * Gemini's error body: `{error: {code, message, status}}`. A 429 or 503 carries its retry hint
 * as Google APIs do, a `google.rpc.RetryInfo` detail (`retryDelay: "2s"`), not a header.
 */
export function geminiErrorResponse(error: unknown): ErrorResponse {
  const { statusCode, message } = describe(error);
  const retryAfterS = error instanceof InjectedFaultError ? error.retryAfterS : 0;
  const hinted = statusCode === 429 || (statusCode === 503 && retryAfterS > 0);
  const details = hinted ? [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfterS}s` }] : [];
  return {
    statusCode,
    headers: {},
    body: { error: { code: statusCode, message, status: googleStatus(statusCode), ...(details.length > 0 ? { details } : {}) } },
  };
}

function googleStatus(statusCode: number): string {
  if (statusCode === 400 || statusCode === 413) return "INVALID_ARGUMENT";
  if (statusCode === 401) return "UNAUTHENTICATED";
  if (statusCode === 403) return "PERMISSION_DENIED";
  if (statusCode === 404) return "NOT_FOUND";
  if (statusCode === 429) return "RESOURCE_EXHAUSTED";
  if (statusCode === 503) return "UNAVAILABLE";
  return "INTERNAL";
}

function describe(error: unknown): { statusCode: number; code: string | null; param: string | null; message: string } {
  if (error instanceof DevModelError) {
    return { statusCode: error.statusCode, code: error.code, param: error.param, message: error.message };
  }
  // Fastify's own errors (bad JSON, wrong content type, body too large) carry a statusCode.
  if (error instanceof Error && "statusCode" in error && typeof error.statusCode === "number" && error.statusCode < 500) {
    return { statusCode: error.statusCode, code: null, param: null, message: error.message };
  }
  return { statusCode: 500, code: null, param: null, message: "The dev model server failed unexpectedly." };
}

function retryHeaders(error: unknown, statusCode: number): Record<string, string> {
  // Clients back off by retry-after; 0 (unless the switch set more) keeps retry tests fast.
  const retryAfterS = error instanceof InjectedFaultError ? error.retryAfterS : 0;
  if (statusCode === 429) return { "retry-after": String(retryAfterS) };
  if (statusCode === 503 && retryAfterS > 0) return { "retry-after": String(retryAfterS) };
  return {};
}

function openAIErrorType(statusCode: number): string {
  if (statusCode === 401) return "authentication_error";
  if (statusCode === 429) return "requests";
  if (statusCode >= 500) return "server_error";
  return "invalid_request_error";
}

function anthropicErrorType(statusCode: number): string {
  if (statusCode === 401) return "authentication_error";
  if (statusCode === 404) return "not_found_error";
  if (statusCode === 413) return "request_too_large";
  if (statusCode === 429) return "rate_limit_error";
  if (statusCode === 503 || statusCode === 529) return "overloaded_error";
  if (statusCode >= 500) return "api_error";
  return "invalid_request_error";
}
