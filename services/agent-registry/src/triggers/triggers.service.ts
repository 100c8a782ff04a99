import { randomBytes } from "node:crypto";
import {
  authorize, pagination, principalOf, type Action, type CreatedTrigger, type CreateTriggerRequest, type EventActor, type ListTriggersRequest, type ReplyData,
  type ResolvedTrigger, type ResourceOwnership, type RotatedTriggerSecret, type Trigger, type TriggerRef, type WorkspaceClaim, uuidv7,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, reportCrossWorkspaceAttempt, type Kysely, type OutboxRelay, type OutboxRow, type Transaction } from "@galaxy/db";
import { checkAgentInput } from "@galaxy/json-schema";
import type { Logger } from "@galaxy/observability";
import type { SecretBox } from "@galaxy/secrets";
import type { Caller } from "../agents/agents.service";
import { agentExistsElsewhere, agentOwners, findAgent } from "../agents/agents.repository";
import type { RegistryDb } from "../db";
import { ActionForbiddenError, AgentNotFoundError, InvalidScheduleError, TriggerHasNoSecretError, TriggerNotFoundError } from "../errors";
import { withNextRuns } from "./next-runs";
import { DEFAULT_TIMEZONE, scheduleProblems } from "./schedule-spec";
import {
  findTrigger, insertTrigger, listTriggers, rotateTriggerSecret, softDeleteTrigger, toTrigger, triggerExistsElsewhere, webhookTriggerForDelivery,
  type LiveSchedule, type NewTrigger,
} from "./triggers.repository";

/** How long a webhook trigger's previous secret keeps verifying after a rotation (docs/api.md). */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 60 * 60 * 1000;
/** Random bytes in a webhook secret (Standard Webhooks allows 24–64; docs/webhooks.md), base64 after `whsec_`. */
const SECRET_BYTES = 32;

/** The operations that look a trigger (or its agent) up by id, as a `security.cross_workspace_attempt` names them. */
export type TriggerLookup = "triggers.create" | "triggers.list" | "triggers.delete" | "triggers.rotate_secret";

/** What the service needs of the schedule runner; a failure here is repaired by its reconciler. */
export interface ScheduleControl {
  upsert(schedule: LiveSchedule): Promise<void>;
  remove(triggerId: string): Promise<void>;
}

export interface TriggersServiceDeps {
  db: Kysely<RegistryDb>;
  relay: OutboxRelay;
  /** Seals webhook secrets at rest (`GALAXY_MASTER_KEY`). */
  box: SecretBox;
  /** Absent where the registry runs without Redis: schedules are kept, and tick once a runner reconciles them. */
  schedules?: ScheduleControl | undefined;
  logger: Logger;
  now?: () => number;
}

export type TriggerPage = ReplyData<"registry.triggers.list">;

/** A new Standard Webhooks secret: `whsec_` and 32 random bytes, base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(SECRET_BYTES).toString("base64")}`;
}

/**
 * Webhook and schedule triggers of an agent (docs/api.md). A trigger is part of its agent's
 * configuration: viewers read them, whoever may edit the agent manages them. A webhook
 * trigger's secret is shown when it is created or rotated, never again; it is stored sealed.
 */
export class TriggersService {
  private readonly now: () => number;

  constructor(private readonly deps: TriggersServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  async create(caller: Caller, request: CreateTriggerRequest): Promise<CreatedTrigger> {
    const { db, relay, box } = this.deps;
    const { claim } = caller;
    const body = request.trigger;
    let secret: string | undefined;
    let spec: NewTrigger;
    const base = { id: uuidv7(), workspaceId: claim.ws, agentId: request.agentId, createdBy: claim.sub };
    switch (body.type) {
      case "webhook":
        secret = newWebhookSecret();
        spec = { ...base, type: "webhook", secretSealed: box.seal(secret) };
        break;
      case "schedule": {
        const timezone = body.timezone ?? DEFAULT_TIMEZONE;
        const cron = body.cron.trim().replace(/\s+/g, " ");
        const problems = scheduleProblems(cron, timezone);
        if (problems) throw new InvalidScheduleError(Object.fromEntries(Object.entries(problems).map(([field, problem]) => [`trigger.${field}`, problem])));
        spec = { ...base, type: "schedule", cron, timezone, input: body.input ?? null };
        break;
      }
      default: {
        const exhaustive: never = body;
        return exhaustive;
      }
    }
    const events: OutboxRow[] = [];
    const created = await inWorkspace(db, claim.ws, async (tx) => {
      const agent = await findAgent(tx, request.agentId);
      if (!agent) return null;
      await requireAllowed(tx, claim, "triggers.manage", request.agentId);
      // Every tick would be refused by the worker: say so now, not in a log at each tick.
      if (spec.type === "schedule") checkAgentInput({ agentId: agent.id, version: agent.version, schema: agent.inputSchema }, spec.input, "trigger.input", "input");
      const trigger = await insertTrigger(tx, spec);
      events.push(await appendEvent(tx, { type: "trigger.created", workspaceId: claim.ws, actor: actorOf(claim), context: caller.eventContext(), data: { trigger } }));
      return { trigger, agentStatus: agent.status };
    });
    if (!created) throw await this.agentNotFound(caller, request.agentId, "triggers.create");
    relay.publishNow(events);
    const { trigger } = created;
    if (trigger.type === "schedule" && created.agentStatus === "active") await this.startTicking(trigger);
    const shown = withNextRuns(trigger, created.agentStatus, this.now());
    return secret === undefined ? shown : { ...shown, secret };
  }

  async list(caller: Caller, request: ListTriggersRequest): Promise<TriggerPage> {
    const { claim } = caller;
    const page = await inWorkspace(this.deps.db, claim.ws, async (tx) => {
      const agent = await findAgent(tx, request.agentId);
      if (!agent) return null;
      await requireAllowed(tx, claim, "triggers.read", request.agentId);
      return { ...(await listTriggers(tx, request.agentId, request)), agentStatus: agent.status };
    });
    if (!page) throw await this.agentNotFound(caller, request.agentId, "triggers.list");
    const now = this.now();
    return { items: page.triggers.map((trigger) => withNextRuns(trigger, page.agentStatus, now)), pagination: pagination(page.total, request) };
  }

  /** Deletes a trigger (soft): its webhook answers 404 and its schedule stops ticking. */
  async delete(caller: Caller, ref: TriggerRef): Promise<Trigger> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    const events: OutboxRow[] = [];
    const outcome = await inWorkspace(db, claim.ws, async (tx) => {
      if (!(await findAgent(tx, ref.agentId))) return "no_agent" as const;
      const row = await findTrigger(tx, ref.agentId, ref.triggerId, { forUpdate: true });
      if (!row) return "no_trigger" as const;
      await requireAllowed(tx, claim, "triggers.manage", ref.agentId);
      await softDeleteTrigger(tx, row.id);
      events.push(
        await appendEvent(tx, { type: "trigger.deleted", workspaceId: claim.ws, actor: actorOf(claim), context: caller.eventContext(), data: { triggerId: row.id, agentId: row.agent_id, type: row.type } }),
      );
      return toTrigger(row);
    });
    if (outcome === "no_agent") throw await this.agentNotFound(caller, ref.agentId, "triggers.delete");
    if (outcome === "no_trigger") throw await this.triggerNotFound(caller, ref.triggerId, "triggers.delete");
    relay.publishNow(events);
    if (outcome.type === "schedule") await this.stopTicking(outcome.id);
    return outcome;
  }

  /** A new secret for a webhook trigger; the one it replaces keeps verifying for `PREVIOUS_SECRET_GRACE_MS`. */
  async rotateSecret(caller: Caller, ref: TriggerRef): Promise<RotatedTriggerSecret> {
    const { db, relay, box } = this.deps;
    const { claim } = caller;
    const secret = newWebhookSecret();
    const previousSecretExpiresAt = new Date(this.now() + PREVIOUS_SECRET_GRACE_MS);
    const events: OutboxRow[] = [];
    const outcome = await inWorkspace(db, claim.ws, async (tx) => {
      if (!(await findAgent(tx, ref.agentId))) return "no_agent" as const;
      const row = await findTrigger(tx, ref.agentId, ref.triggerId, { forUpdate: true });
      if (!row) return "no_trigger" as const;
      await requireAllowed(tx, claim, "triggers.manage", ref.agentId);
      if (row.type !== "webhook") throw new TriggerHasNoSecretError(row.id);
      await rotateTriggerSecret(tx, row.id, box.seal(secret), previousSecretExpiresAt);
      events.push(
        await appendEvent(tx, {
          type: "trigger.secret_rotated",
          workspaceId: claim.ws,
          actor: actorOf(claim),
          context: caller.eventContext(),
          data: { triggerId: row.id, agentId: row.agent_id, previousSecretExpiresAt: previousSecretExpiresAt.toISOString() },
        }),
      );
      return toTrigger(row);
    });
    if (outcome === "no_agent") throw await this.agentNotFound(caller, ref.agentId, "triggers.rotate_secret");
    if (outcome === "no_trigger") throw await this.triggerNotFound(caller, ref.triggerId, "triggers.rotate_secret");
    relay.publishNow(events);
    return { ...outcome, secret, previousSecretExpiresAt: previousSecretExpiresAt.toISOString() };
  }

  /**
   * What the gateway needs to verify a delivery to `/hooks/{triggerId}`: the trigger's
   * workspace, its agent's status, the secrets that verify now, and the agent's current version
   * and `inputSchema` to check the body against. A deleted trigger, one of
   * a deleted agent, or a schedule is not found.
   */
  async resolve(triggerId: string): Promise<ResolvedTrigger> {
    const found = await webhookTriggerForDelivery(this.deps.db, triggerId);
    if (!found) throw new TriggerNotFoundError(triggerId);
    const { box } = this.deps;
    const secrets = [box.open(found.secretSealed)];
    const previousValid = found.previousSecretSealed !== null && found.previousSecretExpiresAt !== null && found.previousSecretExpiresAt.getTime() > this.now();
    if (previousValid && found.previousSecretSealed !== null) secrets.push(box.open(found.previousSecretSealed));
    return {
      triggerId,
      workspaceId: found.workspaceId,
      agentId: found.agentId,
      agentStatus: found.agentStatus,
      secrets,
      validUntil: previousValid && found.previousSecretExpiresAt ? found.previousSecretExpiresAt.toISOString() : null,
      agentVersion: found.agentVersion,
      inputSchema: found.inputSchema,
    };
  }

  private async startTicking(trigger: Trigger): Promise<void> {
    const { schedules, logger } = this.deps;
    if (!schedules || trigger.cron === null || trigger.timezone === null) return;
    try {
      await schedules.upsert({ id: trigger.id, workspaceId: trigger.workspaceId, agentId: trigger.agentId, cron: trigger.cron, timezone: trigger.timezone });
    } catch (error) {
      // The trigger is committed: the reconciler schedules it on its next pass.
      logger.warn({ err: error, triggerId: trigger.id }, "could not schedule the trigger now; the reconciler will");
    }
  }

  private async stopTicking(triggerId: string): Promise<void> {
    const { schedules, logger } = this.deps;
    if (!schedules) return;
    try {
      await schedules.remove(triggerId);
    } catch (error) {
      // A tick of a deleted trigger starts nothing (it is looked up first); the reconciler removes it.
      logger.warn({ err: error, triggerId }, "could not unschedule the trigger now; the reconciler will");
    }
  }

  /**
   * The 404 of a lookup by id that found nothing in the caller's workspace. When the id belongs
   * to another workspace the attempt is also recorded as `security.cross_workspace_attempt`;
   * a failure to record it is logged, never answered (see AgentsService).
   */
  private async agentNotFound(caller: Caller, agentId: string, operation: TriggerLookup): Promise<AgentNotFoundError> {
    await this.reportIfElsewhere(caller, "agent", agentId, operation, () => agentExistsElsewhere(this.deps.db, agentId, caller.claim.ws));
    return new AgentNotFoundError(agentId);
  }

  private async triggerNotFound(caller: Caller, triggerId: string, operation: TriggerLookup): Promise<TriggerNotFoundError> {
    await this.reportIfElsewhere(caller, "trigger", triggerId, operation, () => triggerExistsElsewhere(this.deps.db, triggerId, caller.claim.ws));
    return new TriggerNotFoundError(triggerId);
  }

  private async reportIfElsewhere(caller: Caller, targetType: "agent" | "trigger", targetId: string, operation: TriggerLookup, elsewhere: () => Promise<boolean>): Promise<void> {
    const { db, relay } = this.deps;
    await reportCrossWorkspaceAttempt({
      db, relay, claim: caller.claim, eventContext: () => caller.eventContext(), targetType, targetId, operation, logger: caller.logger, existsElsewhere: elsewhere,
    });
  }
}

/** Checks `action` on the agent's triggers, with the agent's owners (a member manages the triggers of its own agents). */
async function requireAllowed(tx: Transaction<RegistryDb>, claim: WorkspaceClaim, action: Action, agentId: string): Promise<void> {
  const owners: ResourceOwnership = (await agentOwners(tx, agentId)) ?? {};
  if (!authorize(principalOf(claim), action, owners)) throw new ActionForbiddenError(action);
}

function actorOf(claim: WorkspaceClaim): EventActor {
  return { type: claim.act, id: claim.sub };
}
