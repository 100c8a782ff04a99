import { readFile } from "node:fs/promises";
import { z } from "zod";
import { credsAuthenticator, type ConnectionOptions } from "@nats-io/transport-node";
import type { NatsEnv } from "@galaxy/contracts";

/** How the bus proves who it is to NATS and whether it speaks TLS (docs/bus.md, "Configuration"). */
export interface NatsAuth {
  user?: string | undefined;
  password?: string | undefined;
  token?: string | undefined;
  /** A NATS `.creds` file: the user's JWT and NKey seed (servers in operator mode). */
  credsFile?: string | undefined;
  /** TLS to the server: the CA that signed its certificate, and this client's own certificate and key. */
  tls?: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined } | undefined;
}

/** How `provision` keeps the streams. */
export interface StreamSettings {
  replicas: number;
  storage: "file" | "memory";
}

export const DEFAULT_STREAM_SETTINGS: StreamSettings = { replicas: 1, storage: "file" };

/** The combinations the variables alone cannot refuse. */
const Credentials = z
  .object({
    NATS_USER: z.string().optional(),
    NATS_PASSWORD: z.string().optional(),
    NATS_TOKEN: z.string().optional(),
    NATS_CREDS_FILE: z.string().optional(),
    NATS_TLS_CERT_FILE: z.string().optional(),
    NATS_TLS_KEY_FILE: z.string().optional(),
  })
  .superRefine((env, ctx) => {
    const ways = [env.NATS_USER && "NATS_USER", env.NATS_TOKEN && "NATS_TOKEN", env.NATS_CREDS_FILE && "NATS_CREDS_FILE"].filter(Boolean);
    if (ways.length > 1) ctx.addIssue({ code: "custom", path: ["NATS_USER"], message: `choose one way to authenticate, not ${ways.join(" and ")}` });
    if (env.NATS_PASSWORD !== undefined && !env.NATS_USER) ctx.addIssue({ code: "custom", path: ["NATS_PASSWORD"], message: "needs NATS_USER" });
    if (Boolean(env.NATS_TLS_CERT_FILE) !== Boolean(env.NATS_TLS_KEY_FILE)) {
      ctx.addIssue({ code: "custom", path: [env.NATS_TLS_CERT_FILE ? "NATS_TLS_KEY_FILE" : "NATS_TLS_CERT_FILE"], message: "a client certificate needs its key, and a key its certificate" });
    }
  });

/**
 * The connection part of `BusOptions` from the parsed environment (`NatsEnv` of
 * libs/contracts): `Bus.connect({ ...busConnection(env), service, logger })`. Throws, naming
 * the variables, when they contradict each other.
 */
export function busConnection(env: NatsEnv): NatsAuth & { url: string; prefix: string; streams: StreamSettings } {
  const checked = Credentials.safeParse(env);
  if (!checked.success) {
    const lines = checked.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`invalid configuration:\n${lines.join("\n")}`);
  }
  const tlsFiles = { caFile: env.NATS_TLS_CA_FILE, certFile: env.NATS_TLS_CERT_FILE, keyFile: env.NATS_TLS_KEY_FILE };
  return {
    url: env.NATS_URL,
    prefix: env.GALAXY_BUS_PREFIX,
    user: env.NATS_USER,
    password: env.NATS_PASSWORD,
    token: env.NATS_TOKEN,
    credsFile: env.NATS_CREDS_FILE,
    tls: Object.values(tlsFiles).some(Boolean) ? tlsFiles : undefined,
    streams: { replicas: env.GALAXY_STREAM_REPLICAS, storage: env.GALAXY_STREAM_STORAGE },
  };
}

/** The NATS client options for `auth` (files are read here, so a missing one fails the start). */
export async function natsAuthOptions(auth: NatsAuth): Promise<Partial<ConnectionOptions>> {
  const options: Partial<ConnectionOptions> = {};
  if (auth.user) {
    // Replies come to inboxes named after the NATS user, which the server lets only that
    // user read (infra/nats): no one else sees a resolved credential or an API key's claim.
    Object.assign(options, { user: auth.user, pass: auth.password ?? "", inboxPrefix: `_INBOX_${auth.user}` });
  }
  if (auth.token) options.token = auth.token;
  if (auth.credsFile) options.authenticator = credsAuthenticator(await readFile(auth.credsFile));
  if (auth.tls) {
    const tls: NonNullable<ConnectionOptions["tls"]> = {};
    if (auth.tls.caFile) tls.caFile = auth.tls.caFile;
    if (auth.tls.certFile) tls.certFile = auth.tls.certFile;
    if (auth.tls.keyFile) tls.keyFile = auth.tls.keyFile;
    options.tls = tls;
  }
  return options;
}
