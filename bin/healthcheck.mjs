#!/usr/bin/env node
// The image's HEALTHCHECK: exits 0 when the program named by GALAXY_SERVICE answers 200 on its
// readiness route (the ops port; the gateway serves it on its API port), 1 otherwise.
// Programs that serve nothing (setup, cli) are healthy while they run.
const READINESS = {
  gateway: { port: "GATEWAY_PORT", fallback: 8080, path: "/health/ready" },
  identity: { port: "IDENTITY_PORT", fallback: 8081, path: "/health/ready" },
  "agent-registry": { port: "AGENT_REGISTRY_PORT", fallback: 8082, path: "/health/ready" },
  "execution-worker": { port: "EXECUTION_WORKER_PORT", fallback: 8083, path: "/health/ready" },
  audit: { port: "AUDIT_PORT", fallback: 8084, path: "/health/ready" },
  "dev-model": { port: "DEV_MODEL_PORT", fallback: 8089, path: "/health" },
};

const service = process.argv[2] ?? process.env.GALAXY_SERVICE ?? "";
const readiness = READINESS[service];
if (!readiness) process.exit(0);
const port = process.env[readiness.port] || readiness.fallback;
try {
  const response = await fetch(`http://127.0.0.1:${port}${readiness.path}`, { signal: AbortSignal.timeout(2_500) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
