/** Chat models the dev server answers, and what each does. */
export const CHAT_MODELS = {
  "galaxy-dev-echo": "answers `echo: <last user message>`",
  "galaxy-dev-tools": "calls each offered tool once, in order, one per answer, then echoes with the last tool's result",
} as const;
export type ChatModelId = keyof typeof CHAT_MODELS;

/** Embedding models the dev server answers. */
export const EMBEDDING_MODELS = {
  "galaxy-dev-embed": "hashed bag of words without common English words, 512 dimensions unless asked otherwise",
  "text-embedding-3-small": "the same hashed bag of words under OpenAI's model name, 1536 dimensions unless asked otherwise (stands in for a workspace's own OpenAI key)",
  "gemini-embedding-001": "the same hashed bag of words under Gemini's model name, 3072 dimensions unless asked otherwise (stands in for a workspace's own Google key)",
} as const;
export type EmbeddingModelId = keyof typeof EMBEDDING_MODELS;

/** Each embedding model's vector length when a request does not ask for `dimensions`. */
export const EMBEDDING_DEFAULT_DIMENSIONS: Record<EmbeddingModelId, number> = { "galaxy-dev-embed": 512, "text-embedding-3-small": 1536, "gemini-embedding-001": 3072 };

/** Every model id, in the order `GET /v1/models` lists them. */
export const MODEL_IDS: readonly string[] = [...Object.keys(CHAT_MODELS), ...Object.keys(EMBEDDING_MODELS)];

/** A fixed creation time, so model listings are deterministic too (2025-01-01T00:00:00Z). */
export const MODELS_CREATED_AT = 1_735_689_600;

export function isChatModel(model: string): model is ChatModelId {
  return Object.hasOwn(CHAT_MODELS, model);
}

export function isEmbeddingModel(model: string): model is EmbeddingModelId {
  return Object.hasOwn(EMBEDDING_MODELS, model);
}
