import { HEADER, WorkspaceId, parseEvent, parseEventSubject, type WorkspaceClaim } from "@galaxy/contracts";
import { ClaimError } from "./claims";
import { TerminalMessageError } from "./errors";
import { rawOf, type IncomingMessage } from "./raw-messages";
import type { BusResources } from "./resources";
import type { EventMessage } from "./types";
import { readJson } from "./payload-encoding";
import { header } from "./wire";

/**
 * Parses and verifies one event message (docs/bus.md, "Consumers"): its subject names a
 * workspace, its claim verifies (expiry aside: an event is a fact that was authorized when it
 * was produced), claim, header, subject and payload name the same workspace, and the payload
 * matches its type. Throws `TerminalMessageError` when it can never be applied. `replayId`, when
 * given, stands for a `Gx-Replay-Id` header (a replay hands over messages as they were read).
 */
export async function verifyEvent(r: BusResources, msg: IncomingMessage, attempt: number, replayId?: string): Promise<EventMessage> {
  const subject = r.names.unprefixed(msg.subject);
  const hdr = (key: string) => header(msg.headers, key);
  const fromSubject = parseEventSubject(subject);
  if (!fromSubject) throw new TerminalMessageError("bad_subject", `${subject} is not an event subject`);
  const headerWs = hdr(HEADER.workspaceId);
  if (!headerWs || !WorkspaceId.safeParse(headerWs).success) throw new TerminalMessageError("missing_workspace", "no valid Gx-Workspace-Id header");
  const claimToken = hdr(HEADER.claim);
  let claim: WorkspaceClaim;
  try {
    claim = await r.claims.verify(claimToken, { checkExpiry: false });
  } catch (error) {
    if (error instanceof ClaimError) throw new TerminalMessageError(`forged_claim:${error.reason}`, `claim refused: ${error.message}`, { cause: error });
    throw error;
  }
  // Before the payload is read, so a claim of another workspace is reported as such even
  // when the payload is bad too.
  if (claim.ws !== headerWs || headerWs !== fromSubject.workspaceId) {
    throw new TerminalMessageError("workspace_mismatch", "claim, header, subject and payload name different workspaces");
  }
  const body = readJson(msg.headers, msg.data);
  if (!body.ok) throw new TerminalMessageError("bad_payload", "payload is not JSON");
  const parsed = parseEvent(body.value);
  if (!parsed.ok) throw new TerminalMessageError("bad_payload", parsed.error);
  const event = parsed.event;
  if (event.workspaceId !== headerWs) {
    throw new TerminalMessageError("workspace_mismatch", "claim, header, subject and payload name different workspaces");
  }
  if (event.type !== fromSubject.type) throw new TerminalMessageError("bad_payload", `payload type ${event.type} does not match subject`);
  // The span that published the event, when it was published inside a trace; never made up
  // here, or the audit entry built from it would differ on every replay.
  const traceparent = hdr(HEADER.traceparent);
  const correlationId = hdr(HEADER.correlationId) ?? event.id;
  const headers = {
    traceparent,
    tracestate: hdr(HEADER.tracestate),
    correlationId,
    causationId: hdr(HEADER.causationId) ?? correlationId,
    clientIp: hdr(HEADER.clientIp),
    userAgent: hdr(HEADER.userAgent),
  };
  return {
    event,
    claim,
    claimToken: claimToken ?? "",
    subject,
    streamSeq: msg.seq,
    deliveryCount: msg.info.deliveryCount,
    attempt,
    replayId: replayId ?? hdr(HEADER.replayId),
    headers,
    derivedContext: (derivedClaim) => ({
      claim: derivedClaim ?? claimToken ?? "",
      traceparent,
      tracestate: headers.tracestate,
      correlationId,
      causationId: event.id,
      clientIp: headers.clientIp,
      userAgent: headers.userAgent,
    }),
    working: () => msg.working(),
    raw: () => rawOf(msg, subject),
  };
}
