import { DOCUMENT_MAX_BYTES, GalaxyError, NotFoundError, UnavailableError } from "@galaxy/contracts";

// Codes are part of the API: integrators match on them, so they never change (README lists them).

/** No such knowledge base in the caller's workspace: also the answer for another workspace's. */
export class KnowledgeBaseNotFoundError extends NotFoundError {
  constructor(id: string) {
    super("knowledge base", id, "knowledge_base_not_found");
    this.name = "KnowledgeBaseNotFoundError";
  }
}

/** A document's text is over `DOCUMENT_MAX_BYTES` (UTF-8): split it into several documents. */
export class DocumentTooLargeError extends GalaxyError {
  constructor(sizeBytes: number) {
    super(413, "document_too_large", `The document's text is ${sizeBytes} bytes; at most ${DOCUMENT_MAX_BYTES} bytes (512 KiB) are accepted, so split it into several documents`, {
      details: { text: `at most ${DOCUMENT_MAX_BYTES} bytes` },
    });
    this.name = "DocumentTooLargeError";
  }
}

/** The embedding provider refused (a bad key, an unknown model) or answered nonsense: retrying will not help. */
export class EmbeddingFailedError extends GalaxyError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(503, "embedding_failed", message, { cause: options.cause, retryable: false });
    this.name = "EmbeddingFailedError";
  }
}

/** The embedding provider could not be reached, or timed out: worth retrying. */
export class EmbeddingUnavailableError extends UnavailableError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause, code: "embedding_unavailable" });
    this.name = "EmbeddingUnavailableError";
  }
}

/** The vector store (Pinecone) could not be reached, or failed: worth retrying. */
export class VectorStoreUnavailableError extends UnavailableError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause, code: "vector_store_unavailable" });
    this.name = "VectorStoreUnavailableError";
  }
}

/** A knowledge base kept in Pinecone, while neither the workspace nor the platform has a Pinecone key any more. */
export class VectorStoreNotConfiguredError extends GalaxyError {
  constructor() {
    super(503, "vector_store_not_configured", "This knowledge base is kept in Pinecone, but no Pinecone key is configured for the workspace or the platform", { retryable: false });
    this.name = "VectorStoreNotConfiguredError";
  }
}

/**
 * The embedding provider answered vectors of another length than the knowledge base's (its
 * endpoint or model changed since it was created): its chunks and the query cannot be
 * compared. Re-create the knowledge base, or restore the endpoint it was created with.
 */
export class EmbeddingDimensionMismatchError extends GalaxyError {
  constructor(expected: number, got: number) {
    super(
      409,
      "embedding_dimension_mismatch",
      `The embedding provider answered vectors of ${got} dimensions, but this knowledge base holds vectors of ${expected}: its embedding endpoint changed since it was created. Restore that endpoint, or create a new knowledge base`,
      { details: { expected: String(expected), got: String(got) }, retryable: false },
    );
    this.name = "EmbeddingDimensionMismatchError";
  }
}

/** A knowledge base embedded with the workspace's own OpenAI key, which the workspace has since removed. */
export class EmbeddingCredentialMissingError extends GalaxyError {
  constructor(provider: "openai" | "google" = "openai") {
    super(
      503,
      "embedding_credential_missing",
      `This knowledge base was created with the workspace's own ${provider === "google" ? "Google" : "OpenAI"} key, which is no longer set: set it again (PUT /api/provider-credentials/${provider}), or create a new knowledge base`,
      { retryable: false },
    );
    this.name = "EmbeddingCredentialMissingError";
  }
}

/** The workspace's own Pinecone index host is somewhere the outbound policy (`OUTBOUND_HOST_ALLOWLIST`) refuses: nothing was sent. */
export class VectorStoreNotAllowedError extends GalaxyError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super(503, "vector_store_not_allowed", `The workspace's Pinecone index host is not allowed: ${reason}`, { cause: options.cause, retryable: false });
    this.name = "VectorStoreNotAllowedError";
  }
}
