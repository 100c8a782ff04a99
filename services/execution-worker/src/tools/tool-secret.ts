import { hkdfSync } from "node:crypto";
import { z } from "zod";

const SALT = "galaxy/webhook-tools/v1";
const MIN_MASTER_KEY_BYTES = 32;

/** `GALAXY_MASTER_KEY` as the worker's environment takes it: base64 of at least 32 bytes, checked at startup. */
export const MasterKeyEnv = z
  .string()
  .min(1)
  .refine((value) => Buffer.from(value.trim(), "base64").length >= MIN_MASTER_KEY_BYTES, `must be base64 of at least ${MIN_MASTER_KEY_BYTES} bytes`);

/**
 * The Standard Webhooks secret (`whsec_…`) Galaxy signs an agent's webhook tool calls with:
 * derived with HKDF-SHA256 from `GALAXY_MASTER_KEY` for one workspace and agent, so it is
 * the same on every worker instance, differs for every agent, stores nothing, and reveals
 * neither the master key nor any other agent's secret. An admin or owner reads it with
 * `GET /api/agents/{id}/tool-secret` whenever needed (every read answers the same secret) and
 * the tool verifies each call with it. Rotating `GALAXY_MASTER_KEY` rotates every agent's.
 */
export function webhookToolSecret(masterKey: string, workspaceId: string, agentId: string): string {
  const ikm = Buffer.from(masterKey, "base64");
  if (ikm.length < MIN_MASTER_KEY_BYTES) throw new Error("GALAXY_MASTER_KEY must be at least 32 bytes, base64");
  const key = Buffer.from(hkdfSync("sha256", ikm, SALT, `${workspaceId}:${agentId}`, 32));
  return `whsec_${key.toString("base64")}`;
}
