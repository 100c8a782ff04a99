/**
 * The service a program's entry point names: `<dist>/<service>/main.js` (compiled) or
 * `services/<service>/src/main.ts` (from source); undefined for anything else.
 */
export function serviceOfEntry(entry: string | undefined): string | undefined {
  return entry ? /(?:^|[\\/])([a-z-]+)[\\/](?:main\.js|src[\\/]main\.ts)$/.exec(entry)?.[1] : undefined;
}
