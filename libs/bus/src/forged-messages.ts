import type { MsgHdrs } from "@nats-io/transport-node";
import { v5 as uuidv5 } from "uuid";
import { EVENT_CATALOG, HEADER, SYSTEM_WORKSPACE_ID, Uuid, WorkspaceId, parseEventSubject } from "@galaxy/contracts";
import type { Logger } from "@galaxy/observability";
import { TerminalMessageError } from "./errors";
import { publishEvent } from "./publishing";
import type { IncomingMessage } from "./raw-messages";
import type { BusResources } from "./resources";
import type { MessageContext, StoredEvent } from "./types";
import { readJson } from "./payload-encoding";
import { clip, header, sleep, withTimeout } from "./wire";

/**
 * Dead-letter reasons that mean a message failed its claim or workspace checks: besides the
 * dead letter, each becomes a `security.forged_message` event (docs/security.md).
 */
const SECURITY_FAILURE = /^(forged_claim:[a-z_]+|workspace_mismatch|missing_workspace|bad_subject)$/;
/** Namespace of the report ids: UUIDv5 of consumer, stream and sequence, so a redelivery reports the same event. */
const FORGED_REPORT_NAMESPACE = "6f1d3c52-8a4e-4c1b-9b7e-2f0c5d8a9e31";
/** Tries at reporting a forged message (claim from identity, then publish) before the consumer moves on without it. */
const FORGED_REPORT_ATTEMPTS = 3;
/** How long one try may wait for identity's service claim. */
const FORGED_REPORT_CLAIM_TIMEOUT_MS = 2_000;

/** The reason to report a dead-lettered message as forged, or null when its failure is not a security one. */
export function securityFailure(error: unknown): string | null {
  return error instanceof TerminalMessageError && SECURITY_FAILURE.test(error.reason) ? error.reason : null;
}

/**
 * Publishes a `security.forged_message` event into the workspace the message named (its
 * subject's token, else its `Gx-Workspace-Id`, else the system workspace), with this
 * service's claim for that workspace. The event id is derived from consumer, stream and
 * sequence, so a redelivery of the same message reports the same event (JetStream drops the
 * repeat; audit keeps one entry per id). The claim is verified here before it is used: a
 * report that its own consumers would refuse would be reported in turn, without end.
 */
export async function reportForgedMessage(r: BusResources, consumer: string, msg: IncomingMessage, reason: string, logger: Logger): Promise<void> {
  const report = forgedMessageReport(r.names.unprefixed(msg.subject), msg, consumer, reason, r.options.service);
  for (let attempt = 1; ; attempt++) {
    try {
      const claim = await withTimeout(r.serviceClaims.get(report.workspaceId), FORGED_REPORT_CLAIM_TIMEOUT_MS, "identity did not issue a service claim in time");
      const verified = await r.claims.verify(claim, { checkExpiry: true });
      if (verified.ws !== report.workspaceId) throw new Error(`identity issued a claim for ${verified.ws}, not ${report.workspaceId}`);
      await publishEvent(r, { ...report, context: { ...report.context, claim } });
      logger.warn({ reportId: report.id, workspaceId: report.workspaceId, reason }, "forged message reported");
      return;
    } catch (error) {
      if (attempt >= FORGED_REPORT_ATTEMPTS || r.running.stopping) {
        logger.error({ err: error, reportId: report.id, workspaceId: report.workspaceId, reason }, "could not report the forged message; it stays a dead letter");
        return;
      }
      msg.working();
      await sleep(250 * 4 ** (attempt - 1));
      msg.working();
    }
  }
}

/**
 * The `security.forged_message` event for a message `consumer` refused, without its claim.
 * Built only from the message and its place in the stream, so it is the same on every
 * redelivery; whatever the message says is treated as hostile: only well-formed ids are kept.
 */
function forgedMessageReport(subject: string, msg: IncomingMessage, consumer: string, reason: string, service: string): Omit<StoredEvent, "context"> & { context: Omit<MessageContext, "claim"> } {
  const headerWs = header(msg.headers, HEADER.workspaceId);
  const validHeaderWs = headerWs !== undefined && WorkspaceId.safeParse(headerWs).success ? headerWs : undefined;
  const workspaceId = parseEventSubject(subject)?.workspaceId ?? validHeaderWs ?? SYSTEM_WORKSPACE_ID;
  const id = uuidv5(`${consumer}:${msg.info.stream}:${msg.seq}`, FORGED_REPORT_NAMESPACE);
  const messageId = printable(header(msg.headers, HEADER.msgId)) ?? payloadId(msg.headers, msg.data);
  const entry = EVENT_CATALOG["security.forged_message"];
  const data = entry.data.parse({ consumer, subject: clip(subject), reason, messageId, claimedWorkspaceId: printable(headerWs) });
  return {
    id,
    workspaceId,
    type: "security.forged_message",
    schemaVersion: entry.schemaVersion,
    payload: { id, type: "security.forged_message", occurredAt: msg.time.toISOString(), workspaceId, actor: { type: "service", id: service }, data },
    // In the trace of the message refused, when it named a valid one.
    context: { traceparent: header(msg.headers, HEADER.traceparent), tracestate: header(msg.headers, HEADER.tracestate), correlationId: id, causationId: messageId ?? id },
  };
}

/** A header value short and plain enough to repeat in an event, or null. */
function printable(value: string | undefined): string | null {
  return value !== undefined && /^[\x21-\x7e]{1,128}$/.test(value) ? value : null;
}

/** The `id` of a message's JSON payload when it is a UUID. */
function payloadId(headers: MsgHdrs | undefined, data: Uint8Array): string | null {
  const body = readJson(headers, data);
  if (!body.ok || typeof body.value !== "object" || body.value === null || !("id" in body.value)) return null;
  const id = Uuid.safeParse(body.value.id);
  return id.success ? id.data : null;
}
