import { Queue, Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import { v5 as uuidv5 } from "uuid";
import { z } from "zod";
import type { Bus } from "@galaxy/bus";
import { GalaxyError, Uuid, WorkspaceId } from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import type { RegistryDb } from "../db";
import { findScheduleForTick, liveScheduleTriggers, type LiveSchedule } from "./triggers.repository";
import type { ScheduleControl } from "./triggers.service";

export interface ScheduleRunnerOptions {
  /** `REDIS_URL`. */
  redisUrl: string;
  /**
   * The BullMQ queue's name: `schedules`, or `<GALAXY_BUS_PREFIX>-schedules` so deployments
   * (and test runs) sharing one Redis never run each other's schedules.
   */
  queueName: string;
  /** BullMQ's key prefix (default `bull`); tests put it under their own Redis prefix. */
  keyPrefix?: string | undefined;
  /** How often the job schedulers are made to match Postgres again (default 30 s). */
  reconcileIntervalMs?: number | undefined;
}

/** The queue name for a deployment's bus prefix. */
export function scheduleQueueName(busPrefix: string): string {
  return busPrefix ? `${busPrefix}-schedules` : "schedules";
}

/** The execution a tick starts: UUIDv5 of the tick's job id (scheduler and tick time) in the trigger's namespace. */
export function tickExecutionId(triggerId: string, jobId: string): string {
  return uuidv5(jobId, triggerId);
}

const TickData = z.object({ triggerId: Uuid, workspaceId: WorkspaceId });
const TICK_JOB = "tick";

/**
 * Runs schedule triggers with BullMQ job schedulers on Redis: one scheduler per trigger, whose
 * id is the trigger's, so every registry process that upserts it upserts the same one; each
 * tick is one job that one worker takes. The tick starts an execution through
 * `svc.execution.start` with the registry's service claim, with an execution id derived from
 * the trigger and the tick's job id: a tick retried, or taken twice, starts one execution.
 *
 * Postgres is the source of truth. On start, every `reconcileIntervalMs`, and at once when an
 * agent is activated, paused or deleted (core `evt.*.agent.*`), the reconciler
 * adds the schedulers Redis lacks (after a flush or restart) and removes those of deleted
 * triggers and of agents that are not active; a tick also checks its trigger and agent
 * first and removes its own scheduler when either is gone or the agent is not active.
 */
export class ScheduleRunner implements ScheduleControl {
  private queue: Queue | undefined;
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly connections: Redis[] = [];
  private reconciling: Promise<void> | undefined;

  constructor(private readonly deps: { db: Kysely<RegistryDb>; bus: Bus; logger: Logger; options: ScheduleRunnerOptions }) {}

  async start(): Promise<void> {
    const { options, logger } = this.deps;
    // BullMQ's blocking worker needs connections that never give up on a command.
    const connection = () => {
      const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
      redis.on("error", (error: unknown) => logger.warn({ err: error }, "schedule runner: Redis connection error"));
      this.connections.push(redis);
      return redis;
    };
    const prefix = options.keyPrefix ?? "bull";
    this.queue = new Queue(options.queueName, { connection: connection(), prefix });
    this.worker = new Worker(options.queueName, (job) => this.tick(job), {
      connection: connection(),
      prefix,
      concurrency: 4,
    });
    this.worker.on("failed", (job, error) => logger.warn({ err: error, jobId: job?.id }, "a schedule tick failed"));
    this.worker.on("error", (error) => logger.warn({ err: error }, "schedule worker error"));
    await this.reconcile().catch((error: unknown) => logger.warn({ err: error }, "the first schedule reconciliation failed; retrying on the next pass"));
    const every = options.reconcileIntervalMs ?? 30_000;
    this.timer = setInterval(() => {
      this.reconcile().catch((error: unknown) => logger.warn({ err: error }, "schedule reconciliation failed; retrying on the next pass"));
    }, every);
    this.timer.unref();
    // An agent activated, paused or deleted (by any registry process): its schedules follow at
    // once rather than at the next pass. The event is a hint only; the pass reads Postgres.
    this.deps.bus.subscribeCore("evt.*.agent.>", (_data, subject) => {
      if (/\.agent\.(activated|paused|deleted)$/.test(subject)) this.reconcileSoon();
    });
  }

  /** A reconciliation shortly, however many hints arrive meanwhile. */
  private reconcileSoon(): void {
    if (this.soon || this.stopped) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.reconcile().catch((error: unknown) => this.deps.logger.warn({ err: error }, "schedule reconciliation failed; retrying on the next pass"));
    }, 100);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
    await this.reconciling?.catch(() => undefined);
    await this.worker?.close();
    await this.queue?.close();
    for (const redis of this.connections) redis.disconnect();
  }

  async upsert(schedule: LiveSchedule): Promise<void> {
    await this.requireQueue().upsertJobScheduler(
      schedule.id,
      { pattern: schedule.cron, tz: schedule.timezone },
      { name: TICK_JOB, data: { triggerId: schedule.id, workspaceId: schedule.workspaceId }, opts: { attempts: 5, backoff: { type: "exponential", delay: 1_000 }, removeOnComplete: 100, removeOnFail: 500 } },
    );
  }

  async remove(triggerId: string): Promise<void> {
    await this.requireQueue().removeJobScheduler(triggerId);
  }

  /**
   * Makes Redis's job schedulers match the live schedule triggers of active agents; returns
   * how many it added (or changed) and removed. Passes never overlap within a process.
   */
  async reconcile(): Promise<{ upserted: number; removed: number }> {
    while (this.reconciling) await this.reconciling.catch(() => undefined);
    const result = { upserted: 0, removed: 0 };
    const pass = this.reconcileOnce(result);
    this.reconciling = pass;
    try {
      await pass;
    } finally {
      if (this.reconciling === pass) this.reconciling = undefined;
    }
    return result;
  }

  private async reconcileOnce(result: { upserted: number; removed: number }): Promise<void> {
    const queue = this.requireQueue();
    // Redis first, then Postgres: a scheduler in Redis was made after its trigger committed, so
    // the later read of Postgres sees that trigger. Read the other way round, a schedule created
    // between the two reads had its new scheduler removed as unwanted, until the next pass.
    const existing = new Map((await queue.getJobSchedulers(0, -1)).map((s) => [s.key, s]));
    const live = await liveScheduleTriggers(this.deps.db);
    const wanted = new Set(live.map((s) => s.id));
    for (const schedule of live) {
      const current = existing.get(schedule.id);
      if (current && current.pattern === schedule.cron && current.tz === schedule.timezone) continue;
      await this.upsert(schedule);
      result.upserted += 1;
    }
    for (const key of existing.keys()) {
      if (wanted.has(key)) continue;
      await this.remove(key);
      result.removed += 1;
    }
    if (result.upserted > 0 || result.removed > 0) this.deps.logger.info(result, "schedules reconciled with Postgres");
  }

  /** One tick of one schedule: starts its execution once, or retires the scheduler of a trigger that no longer runs. */
  private async tick(job: Job): Promise<void> {
    const { db, bus, logger } = this.deps;
    const data = TickData.safeParse(job.data);
    if (!data.success || !job.id) {
      logger.error({ jobId: job.id }, "a schedule tick without a trigger; dropped");
      return;
    }
    const { triggerId, workspaceId } = data.data;
    const schedule = await inWorkspace(db, workspaceId, (tx) => findScheduleForTick(tx, triggerId));
    if (!schedule || schedule.agentStatus !== "active") {
      await this.remove(triggerId);
      logger.info({ triggerId, agentStatus: schedule?.agentStatus ?? null }, "schedule retired: its trigger is deleted or its agent is not active");
      return;
    }
    // The job id names the scheduler and the tick's time: the same for every attempt at this tick.
    const executionId = tickExecutionId(triggerId, job.id);
    const claim = await bus.serviceClaims.get(workspaceId);
    try {
      await bus.request(
        "execution.start",
        { agentId: schedule.agentId, input: schedule.input ?? null, trigger: { type: "schedule", id: triggerId }, executionId },
        { claim, workspaceId, correlationId: executionId },
      );
    } catch (error) {
      // The worker refused this tick for good (the agent was paused a moment ago, its input
      // fails the agent's inputSchema, a quota): retrying cannot help. Anything else retries.
      if (error instanceof GalaxyError && error.status < 500 && error.status !== 429) {
        logger.warn({ err: error, triggerId, executionId }, "the execution of a schedule tick was refused");
        return;
      }
      throw error;
    }
  }

  private requireQueue(): Queue {
    if (!this.queue) throw new Error("the schedule runner is not started");
    return this.queue;
  }
}
