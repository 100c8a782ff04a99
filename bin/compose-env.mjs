#!/usr/bin/env node
// Writes .env for docker-compose.yml: a fresh secret for every variable it needs that .env
// does not hold yet; it never changes one that is there (GALAXY_MASTER_KEY decrypts what was
// stored with it). .env is git-ignored and kept out of the image.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const file = join(dirname(fileURLToPath(import.meta.url)), "..", ".env");
// NATS reads its passwords as config values: a letter, then letters and digits (infra/nats/README.md).
const password = () => `p${randomBytes(24).toString("hex")}`;
const SECRETS = {
  GALAXY_MASTER_KEY: () => randomBytes(32).toString("base64"),
  POSTGRES_PASSWORD: password,
  GALAXY_GATEWAY_DB_PASSWORD: password,
  GALAXY_IDENTITY_DB_PASSWORD: password,
  GALAXY_AGENT_REGISTRY_DB_PASSWORD: password,
  GALAXY_EXECUTION_WORKER_DB_PASSWORD: password,
  GALAXY_AUDIT_DB_PASSWORD: password,
  NATS_GATEWAY_PASSWORD: password,
  NATS_IDENTITY_PASSWORD: password,
  NATS_AGENT_REGISTRY_PASSWORD: password,
  NATS_EXECUTION_WORKER_PASSWORD: password,
  NATS_AUDIT_PASSWORD: password,
  NATS_GALAXY_CLI_PASSWORD: password,
};

const existing = existsSync(file) ? readFileSync(file, "utf8") : "";
const present = new Set(existing.split("\n").map((line) => line.split("=")[0]?.trim()).filter(Boolean));
const added = Object.entries(SECRETS).filter(([name]) => !present.has(name)).map(([name, make]) => `${name}=${make()}`);
if (added.length === 0) {
  console.log(".env already holds every secret docker-compose.yml needs");
} else {
  const separator = existing === "" || existing.endsWith("\n") ? "" : "\n";
  writeFileSync(file, `${existing}${separator}${added.join("\n")}\n`, { mode: 0o600 });
  console.log(`.env: added ${added.map((line) => line.split("=")[0]).join(", ")}`);
}
