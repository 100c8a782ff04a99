/** Chat models the dev server answers, and what each does. */
export const CHAT_MODELS = {
  "galaxy-dev-echo": "answers `echo: <last user message>`",
  "galaxy-dev-tools": "calls the first tool once, then echoes with the tool's result",
} as const;
export type ChatModelId = keyof typeof CHAT_MODELS;

/** Embedding models the dev server answers. */
export const EMBEDDING_MODELS = {
  "galaxy-dev-embed": "hashed bag of words, 64 dimensions unless asked otherwise",
} as const;
export type EmbeddingModelId = keyof typeof EMBEDDING_MODELS;

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
