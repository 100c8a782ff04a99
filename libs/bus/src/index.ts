export { Bus, dropStreams } from "./bus";
export type { BusOptions, RequestOptions, RequestContext, EventMessage, ConsumerOptions, ConsumerHandle, BatchConsumerOptions, MessageContext, StoredEvent, ClaimVerifierLoader, ServiceClaimIssuer } from "./bus";
export { ClaimVerifier, ClaimCache, ClaimError } from "./claims";
export type { ClaimFailure, ClaimVerifierOptions } from "./claims";
export { TerminalMessageError, isDataException, isRetryable } from "./errors";
export { JwksCache } from "./jwks-cache";
export type { KeySet } from "./jwks-cache";
export { toRawMessage, rawOf, incomingOf, rawHeader } from "./raw-messages";
export type { IncomingMessage } from "./raw-messages";
