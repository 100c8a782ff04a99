import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { z } from "zod";

/** libpq's `sslmode` values Galaxy supports (docs/operations.md, Postgres over TLS). */
const SslMode = z.enum(["disable", "require", "verify-ca", "verify-full"], {
  error: "must be disable, require, verify-ca or verify-full (prefer and allow are not supported: choose)",
});
export type SslMode = z.infer<typeof SslMode>;

/** What `pg` gets: the URL without the TLS parameters, and the TLS options they stand for. */
export interface ConnectionSettings {
  connectionString: string;
  ssl: false | ConnectionOptions;
}

/**
 * TLS for a Postgres URL, with libpq's meanings: `sslmode` and `sslrootcert` in the URL, else
 * `DATABASE_SSL_MODE` and `DATABASE_SSL_CA_FILE` (as a connection string's settings win over
 * `PGSSLMODE` in libpq); without either, no TLS. `require` encrypts without checking the
 * certificate, unless a CA is given (then it checks it, as libpq does); `verify-ca` checks the
 * certificate against the CA; `verify-full` also checks the host name (against the system's
 * CAs when no CA file is given).
 */
export function connectionSettings(url: string, env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const parsed = new URL(url);
  const modeText = parsed.searchParams.get("sslmode") ?? env.DATABASE_SSL_MODE ?? "disable";
  const caFile = parsed.searchParams.get("sslrootcert") ?? env.DATABASE_SSL_CA_FILE;
  parsed.searchParams.delete("sslmode");
  parsed.searchParams.delete("sslrootcert");
  const mode = SslMode.safeParse(modeText);
  if (!mode.success) throw new Error(`DATABASE_SSL_MODE (or sslmode in the database URL) "${modeText}" ${mode.error.issues[0]?.message ?? "is invalid"}`);
  return { connectionString: parsed.toString(), ssl: tlsOptions(mode.data, caFile || undefined) };
}

function tlsOptions(mode: SslMode, caFile: string | undefined): false | ConnectionOptions {
  if (mode === "disable") return false;
  const ca = caFile ? readCa(caFile) : undefined;
  const acceptAnyHost = { checkServerIdentity: () => undefined };
  if (mode === "require") return ca ? { ca, ...acceptAnyHost } : { rejectUnauthorized: false };
  if (mode === "verify-ca") {
    if (!ca) throw new Error("DATABASE_SSL_MODE verify-ca needs the CA: set DATABASE_SSL_CA_FILE (or sslrootcert in the URL)");
    return { ca, ...acceptAnyHost };
  }
  return ca ? { ca } : {};
}

function readCa(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`DATABASE_SSL_CA_FILE (or sslrootcert) ${file} cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
}
