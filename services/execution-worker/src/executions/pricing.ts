/** USD per million tokens, prompt and completion. */
export interface ModelPrice {
  input: number;
  output: number;
}

/**
 * The one price list of the models Galaxy knows, by model id (list prices; review them when a
 * provider changes its prices). The dev models are free. A model missing here costs 0 and the
 * worker logs it, so a new model never blocks an execution.
 */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  "galaxy-dev-echo": { input: 0, output: 0 },
  "galaxy-dev-tools": { input: 0, output: 0 },
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-4.1": { input: 2, output: 8 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4 },
  "o3-mini": { input: 1.1, output: 4.4 },
  "claude-3-5-haiku-latest": { input: 0.8, output: 4 },
  "claude-3-7-sonnet-latest": { input: 3, output: 15 },
  "claude-sonnet-4-0": { input: 3, output: 15 },
  "claude-opus-4-0": { input: 15, output: 75 },
  "gemini-2.5-pro": { input: 1.25, output: 10 },
  "gemini-2.5-flash": { input: 0.3, output: 2.5 },
  "gemini-2.5-flash-lite": { input: 0.1, output: 0.4 },
  "gemini-2.0-flash": { input: 0.1, output: 0.4 },
};

export function priceOf(model: string): ModelPrice | null {
  return Object.hasOwn(MODEL_PRICES, model) ? (MODEL_PRICES[model] ?? null) : null;
}

/** The cost of one call in USD, rounded to the 8 decimals the execution record keeps. */
export function costUsd(price: ModelPrice | null, inputTokens: number, outputTokens: number): number {
  if (!price) return 0;
  const micro = inputTokens * price.input + outputTokens * price.output;
  return Math.round(micro * 100) / 1e8;
}
