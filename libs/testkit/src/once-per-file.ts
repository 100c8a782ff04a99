/** What each test file has started, by name (vitest gives each test file its own modules). */
const started = new Set<string>();

/**
 * Throws when `what` is started a second time in one test file: a fixture whose set-up is a
 * whole system (a Galaxy, a worker harness) calls it first. vitest keeps a file's fixtures per
 * chain, so a hook registered on a chain that the file then extended starts a second one, which
 * no test uses; this turns that into a failure, naming the function that starts it first.
 */
export function startOncePerFile(what: string, startFirst: string): void {
  if (started.has(what)) throw new Error(`a second ${what} in one test file: its tests and a hook use different chains (see ${startFirst})`);
  started.add(what);
}
