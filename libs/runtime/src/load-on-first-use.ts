/**
 * A function that calls `load` the first time it is called and answers every call with that
 * one promise. For a module a service needs only when a feature is used (a provider's SDK), so
 * that a process that never uses the feature never holds the module in memory
 * (docs/operations.md, "Memory").
 */
export function loadOnFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => (loading ??= load());
}
