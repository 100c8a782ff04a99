// node-postgres' own conversion of a query parameter to the text it sends (lib/utils.js), which
// its typings leave out. Galaxy's one-round-trip transactions write parameters with it.
declare module "pg/lib/utils.js" {
  export function prepareValue(value: unknown): string | Buffer | null;
}
