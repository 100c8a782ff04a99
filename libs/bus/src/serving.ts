import { headers as natsHeaders, type Msg } from "@nats-io/transport-node";
import type { z } from "zod";
import {
  GalaxyError, HEADER, REQUESTS, UnavailableError, ValidationError, issueDetails, requestSubject, type ErrorBody, type ErrorStatus, type ParsedRequest,
  type ReplyData, type ReplyEnvelope, type RequestName, type WorkspaceClaim, uuidv7,
} from "@galaxy/contracts";
import { inSpan, lazyChild, SpanKind, type Logger } from "@galaxy/observability";
import { ClaimError } from "./claims";
import { classifyFailure, isDataException, isTooDeep } from "./classify-failure";
import { payloadTooDeep } from "./errors";
import type { BusResources } from "./resources";
import type { RequestContext } from "./types";
import { encodePayload, markGzipped, MessageTooLargeError, readJson } from "./payload-encoding";
import { header } from "./wire";

type Handler<N extends RequestName> = (request: ParsedRequest<N>, ctx: RequestContext) => Promise<ReplyData<N>>;

/**
 * Serves `svc.<name>` in this service's queue group. The payload is parsed against the
 * catalog; the claim, when the operation needs one, is verified and must be unexpired and
 * name the workspace of `Gx-Workspace-Id`.
 */
export function serve<N extends RequestName>(r: BusResources, name: N, handler: Handler<N>): void {
  r.watchKeyRevocations();
  const claimRequired = REQUESTS[name].claim === "required";
  const sub = r.nc.subscribe(r.names.subject(requestSubject(name)), {
    queue: r.options.service,
    callback: (error, msg) => {
      if (error) return;
      const work = handleRequest(r, name, claimRequired, msg, handler).catch((replyError: unknown) => r.logger.error({ err: replyError, op: name }, "a request could not be answered"));
      r.running.track(work);
    },
  });
  r.running.subscriptions.push(sub);
}

async function handleRequest<N extends RequestName>(r: BusResources, name: N, claimRequired: boolean, msg: Msg, handler: Handler<N>): Promise<void> {
  const correlationId = header(msg.headers, HEADER.correlationId) ?? uuidv7();
  const logger = lazyChild(r.logger, { op: name, correlationId });
  const parent = { traceparent: header(msg.headers, HEADER.traceparent), tracestate: header(msg.headers, HEADER.tracestate) };
  const attributes = { "messaging.system": "nats", "messaging.operation.type": "process", "messaging.destination.name": msg.subject, "galaxy.operation": name };
  await inSpan(`serve ${name}`, parent, { kind: SpanKind.SERVER, attributes }, async (traceparent) => {
    let envelope: ReplyEnvelope;
    try {
      const { claim, request } = await parseRequest(r, name, claimRequired, msg);
      const data = await handler(request, requestContext(name, msg, claim, { correlationId, traceparent, logger }));
      envelope = { ok: true, data };
    } catch (error) {
      envelope = replyToFailure(error, logger());
    }
    if (msg.reply) respond(r, msg, JSON.stringify(envelope), logger);
  });
}

/**
 * Sends a reply, gzipped when it is larger than the NATS server carries as it is (docs/bus.md,
 * "Large messages"). One too large even then (its `max_payload`, 1 MB unless configured:
 * docs/operations.md, "NATS") is answered at once with 503 `reply_too_large`, which says what
 * to change, rather than left for the caller to time out on.
 */
function respond(r: BusResources, msg: Msg, reply: string, logger: () => Logger): void {
  let encoded: ReturnType<typeof encodePayload>;
  try {
    encoded = encodePayload(reply, r.nc.info?.max_payload, "reply");
  } catch (error) {
    if (!(error instanceof MessageTooLargeError)) throw error;
    logger().error({ bytes: error.bytes, limit: error.limit }, "a reply is larger than the NATS server accepts, even gzipped; it was answered reply_too_large");
    msg.respond(JSON.stringify({ ok: false, status: error.status, error: error.toBody() } satisfies ReplyEnvelope));
    return;
  }
  msg.respond(encoded.data, encoded.gzipped ? { headers: markGzipped(natsHeaders()) } : undefined);
}

/** Verifies the claim (when there is one or one is needed) and parses the payload. */
async function parseRequest<N extends RequestName>(r: BusResources, name: N, claimRequired: boolean, msg: Msg): Promise<{ claim: WorkspaceClaim | null; request: ParsedRequest<N> }> {
  const claimToken = header(msg.headers, HEADER.claim);
  let claim: WorkspaceClaim | null = null;
  if (claimRequired || claimToken) {
    try {
      claim = await r.claims.verify(claimToken, { checkExpiry: true });
    } catch (error) {
      if (error instanceof ClaimError) throw new GalaxyError(401, `claim_${error.reason}`, error.message);
      throw error;
    }
    const ws = header(msg.headers, HEADER.workspaceId);
    if (ws !== undefined && ws !== claim.ws) throw new GalaxyError(401, "claim_workspace_mismatch", "Gx-Workspace-Id does not match the claim");
  }
  const body = readJson(msg.headers, msg.data);
  if (!body.ok) throw new ValidationError("Malformed JSON", { "(root)": "not valid JSON" }, "malformed_json");
  const parsed = requestSchema(name).safeParse(body.value);
  if (!parsed.success) throw new ValidationError("The request is invalid", issueDetails(parsed.error));
  return { claim, request: parsed.data };
}

function requestContext(name: string, msg: Msg, claim: WorkspaceClaim | null, request: { correlationId: string; traceparent: string | undefined; logger: () => Logger }): RequestContext {
  const hdr = (key: string) => header(msg.headers, key);
  const claimToken = hdr(HEADER.claim);
  const { correlationId, traceparent } = request;
  return {
    claim,
    correlationId,
    traceparent,
    clientIp: hdr(HEADER.clientIp),
    userAgent: hdr(HEADER.userAgent),
    requester: msg.reply ? /^_INBOX_([^.]+)\./.exec(msg.reply)?.[1] : undefined,
    get logger() {
      return request.logger();
    },
    eventContext: () => {
      if (!claimToken) throw new Error(`${name} has no claim to publish events with`);
      return { claim: claimToken, traceparent, correlationId, causationId: hdr(HEADER.causationId) ?? correlationId, clientIp: hdr(HEADER.clientIp), userAgent: hdr(HEADER.userAgent) };
    },
  };
}

/**
 * The reply to a request whose handling failed (docs/bus.md, "Request-reply"): a typed error
 * as it is; a value the database refused or input too deep to walk, the caller's 400; an
 * engine the responder could not reach, 503 `service_unavailable` (retry later); anything
 * else is a bug, 500 `internal_error`, with nothing of it in the reply.
 */
export function replyToFailure(error: unknown, logger: Logger): ReplyEnvelope {
  const refusal = (e: GalaxyError): ReplyEnvelope => ({ ok: false, status: e.status, error: e.toBody() });
  if (error instanceof GalaxyError) {
    if (error.status >= 500) logger.warn({ err: error }, "request failed");
    return refusal(error);
  }
  if (isDataException(error)) return refusal(new ValidationError("A value in the request cannot be stored (e.g. a NUL character or an out-of-range date)", undefined, "invalid_value"));
  if (isTooDeep(error)) return refusal(payloadTooDeep());
  if (classifyFailure(error) === "transient") {
    logger.warn({ err: error }, "a dependency of this request is unavailable");
    return refusal(new UnavailableError("A service Galaxy depends on is unavailable; retry shortly"));
  }
  logger.error({ err: error }, "request handler crashed");
  const status: ErrorStatus = 500;
  const body: ErrorBody = { error: "Internal Server Error", code: "internal_error", message: "Something went wrong on our side" };
  return { ok: false, status, error: body };
}

// TypeScript cannot correlate a catalog entry with its key through an indexed access; this
// states the correlation once, for schemas only (never for outside data).
function requestSchema<N extends RequestName>(name: N): z.ZodType<ParsedRequest<N>> {
  return REQUESTS[name].request as unknown as z.ZodType<ParsedRequest<N>>;
}
