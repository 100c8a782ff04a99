import { describe, expect } from "vitest";
import { outcome, test, USERS, type User } from "./support/nats-permissions";

/** Who may make which request, and who may serve it. */
describe("requests", () => {
  // Raw responders in each service's own queue group, answering as the service would
  // (identity's keys and service claims are served through libs/bus, above).
  const served: Array<[User, string, string]> = [
    ["identity", "svc.identity.credentials.resolve", "identity"],
    ["identity", "svc.identity.api_keys.authenticate", "identity"],
    ["identity", "svc.identity.claims.issue", "identity"],
    ["agent-registry", "svc.registry.triggers.resolve", "agent-registry"],
    ["agent-registry", "svc.registry.knowledge.search", "agent-registry"],
    ["agent-registry", "svc.registry.agents.get", "agent-registry"],
    ["agent-registry", "svc.registry.agents.notify_secret", "agent-registry"],
    ["execution-worker", "svc.execution.start", "execution-worker"],
    ["execution-worker", "svc.execution.tools.secret", "execution-worker"],
    ["audit", "svc.audit.logs.list", "audit"],
    ["audit", "svc.audit.security_incidents.list", "audit"],
    ["audit", "svc.audit.logs.verify", "audit"],
    ["audit", "svc.audit.retention.apply", "audit"],
    ["audit", "svc.audit.logs.export_page", "audit"],
    ["identity", "svc.identity.operator.>", "identity"],
    ["identity", "svc.identity.claims.operator", "identity"],
    ["identity", "svc.identity.users.sync", "identity"],
    ["audit", "svc.audit.replays.start", "audit"],
    ["audit", "svc.audit.dead_letters.redrive", "audit"],
    ["execution-worker", "svc.execution.replay.apply", "execution-worker"],
    ["execution-worker", "svc.execution.replay.reset", "execution-worker"],
    ["execution-worker", "svc.execution.dlq.redrive", "execution-worker"],
    ["agent-registry", "svc.registry.dlq.redrive", "agent-registry"],
  ];

  test.beforeAll(async ({ nc }) => {
    for (const [user, subject, queue] of served) {
      nc[user].subscribe(subject, { queue, callback: (_error, msg) => {
        msg.respond(JSON.stringify({ ok: true, servedBy: user }));
      } });
    }
    await Promise.all(USERS.map((user) => nc[user].flush()));
  });

  // [who, request, may make]
  const rows: Array<[User, string, boolean]> = [
    ["execution-worker", "svc.identity.credentials.resolve", true],
    ["gateway", "svc.identity.credentials.resolve", false],
    // The registry embeds knowledge documents with the workspace's key (identity refuses it the Anthropic key).
    ["agent-registry", "svc.identity.credentials.resolve", true],
    ["audit", "svc.identity.credentials.resolve", false],
    ["galaxy-cli", "svc.identity.credentials.resolve", false],
    ["gateway", "svc.registry.triggers.resolve", true],
    ["execution-worker", "svc.registry.triggers.resolve", false],
    ["audit", "svc.registry.triggers.resolve", false],
    ["galaxy-cli", "svc.registry.triggers.resolve", false],
    ["galaxy-cli", "svc.registry.knowledge.search", false],
    ["execution-worker", "svc.registry.knowledge.search", true],
    ["gateway", "svc.registry.knowledge.search", false],
    ["gateway", "svc.identity.api_keys.authenticate", true],
    ["execution-worker", "svc.identity.api_keys.authenticate", false],
    ["galaxy-cli", "svc.identity.api_keys.authenticate", false],
    ["gateway", "svc.identity.claims.issue", true],
    ["execution-worker", "svc.identity.claims.issue", false],
    ["audit", "svc.identity.claims.issue", false],
    ["execution-worker", "svc.identity.claims.service", true],
    ["agent-registry", "svc.identity.claims.service", true],
    ["audit", "svc.identity.claims.service", true],
    // A webhook delivery has no caller: the gateway publishes it with its own service claim.
    ["gateway", "svc.identity.claims.service", true],
    ["galaxy-cli", "svc.identity.claims.service", false],
    ["gateway", "svc.execution.start", true],
    // An agent's webhook tool secret: asked through the gateway only.
    ["gateway", "svc.execution.tools.secret", true],
    ["audit", "svc.execution.tools.secret", false],
    ["agent-registry", "svc.execution.start", true],
    ["audit", "svc.execution.start", false],
    ["identity", "svc.execution.start", false],
    ["execution-worker", "svc.registry.agents.get", true],
    // A completion callback's signing secret in clear: the worker's alone.
    ["execution-worker", "svc.registry.agents.notify_secret", true],
    ["gateway", "svc.registry.agents.notify_secret", false],
    ["galaxy-cli", "svc.registry.agents.notify_secret", false],
    ["audit", "svc.registry.agents.notify_secret", false],
    ["identity", "svc.registry.agents.notify_secret", false],
    ["audit", "svc.registry.agents.get", false],
    ["gateway", "svc.audit.logs.list", true],
    // Replays and dead letters (docs/replay.md): operators ask audit; audit alone drives a projection's side.
    ["gateway", "svc.audit.replays.start", true],
    ["galaxy-cli", "svc.audit.replays.start", true],
    ["galaxy-cli", "svc.audit.dead_letters.redrive", true],
    ["audit", "svc.execution.replay.apply", true],
    ["audit", "svc.execution.replay.reset", true],
    ["audit", "svc.execution.dlq.redrive", true],
    ["gateway", "svc.execution.replay.apply", false],
    ["gateway", "svc.execution.dlq.redrive", false],
    ["galaxy-cli", "svc.execution.replay.reset", false],
    ["galaxy-cli", "svc.execution.dlq.redrive", false],
    ["agent-registry", "svc.execution.replay.apply", false],
    ["identity", "svc.execution.replay.reset", false],
    // The registry's document indexer takes its dead letters back from audit alone.
    ["audit", "svc.registry.dlq.redrive", true],
    ["gateway", "svc.registry.dlq.redrive", false],
    ["galaxy-cli", "svc.registry.dlq.redrive", false],
    ["execution-worker", "svc.registry.dlq.redrive", false],
    ["identity", "svc.registry.dlq.redrive", false],
    // The CLI's operator claim: galaxy-cli's alone, like every svc.identity.operator.* request.
    ["galaxy-cli", "svc.identity.operator.claim", true],
    ["gateway", "svc.identity.operator.claim", false],
    ["audit", "svc.identity.operator.claim", false],
    ["galaxy-cli", "svc.audit.logs.list", true],
    ["execution-worker", "svc.audit.logs.list", false],
    ["gateway", "svc.audit.logs.verify", true],
    ["galaxy-cli", "svc.audit.logs.verify", true],
    ["gateway", "svc.audit.logs.export_page", true],
    ["agent-registry", "svc.audit.logs.export_page", false],
    ["galaxy-cli", "svc.audit.retention.apply", true],
    ["execution-worker", "svc.audit.retention.apply", false],
    // Operator requests carry no claim: only the CLI's user may make them.
    ["galaxy-cli", "svc.identity.operator.grant_system_admin", true],
    ["galaxy-cli", "svc.identity.operator.keys.rotate", true],
    ["galaxy-cli", "svc.identity.operator.keys.revoke", true],
    ["gateway", "svc.identity.operator.grant_system_admin", false],
    ["gateway", "svc.identity.operator.keys.rotate", false],
    ["gateway", "svc.identity.operator.keys.revoke", false],
    ["agent-registry", "svc.identity.operator.keys.revoke", false],
    ["execution-worker", "svc.identity.operator.grant_system_admin", false],
    ["audit", "svc.identity.operator.keys.rotate", false],
    ["identity", "svc.identity.operator.keys.list", false],
    // A system admin's token for an operator claim: the gateway's, for /api/admin/*.
    ["gateway", "svc.identity.claims.operator", true],
    ["galaxy-cli", "svc.identity.claims.operator", false],
    ["execution-worker", "svc.identity.claims.operator", false],
    ["audit", "svc.identity.claims.operator", false],
    // User sync carries no claim; the gateway verified the provider's webhook signature.
    ["gateway", "svc.identity.users.sync", true],
    ["galaxy-cli", "svc.identity.users.sync", false],
    ["execution-worker", "svc.identity.users.sync", false],
    ["agent-registry", "svc.identity.users.sync", false],
    ["audit", "svc.identity.users.sync", false],
    ["gateway", "svc.audit.security_incidents.list", true],
    ["execution-worker", "svc.audit.security_incidents.list", false],
  ];

  test.for(rows)("%s requesting %s: allowed %s", async ([user, subject, allowed], { nc, expectPublishRefused }) => {
    if (allowed) {
      // Any reply means the request reached its server (the served claims.service answers a
      // validation error to this empty payload).
      expect(await outcome(nc[user], subject)).toHaveProperty("reply");
    } else {
      await expectPublishRefused(user, subject);
    }
  });

  test("identity serves its own request through libs/bus, and the services that verify claims can ask for its keys", async ({ claims, bus }) => {
    for (const user of ["gateway", "agent-registry", "execution-worker", "audit"] as const) {
      const b = await bus(user);
      await expect(b.request("identity.jwks", {})).resolves.toEqual(claims.jwks);
    }
  });

  test("a service cannot answer on another's behalf: replies are only to requests it received", async ({ expectPublishRefused }) => {
    await expectPublishRefused("agent-registry", "_INBOX.forged.reply");
    await expectPublishRefused("gateway", "_INBOX.forged.reply");
  });
});
