import { randomBytes } from "node:crypto";
import { describe, expect, inject } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { withUser } from "@galaxy/db";
import { createDatabase } from "@galaxy/testkit";
import { provisionDatabase } from "../../../../scripts/provision";
import { workerTestAfter, startHarnessFirst } from "../../test/support/fixtures";
import { eventually } from "../../test/support/harness";
import { OwnPostgres } from "../../test/support/own-postgres";

/**
 * A Postgres restart while runs are under way (docs/pipeline.md, "Database blips"): the write
 * that records the run's end is retried in place until the database answers again, so the run
 * completes once, on its first attempt, and the model is called once. Without the retry the
 * run would wait out its 30 s lease and call the model a second time.
 *
 * The worker runs on a Postgres of this test's own, which the test stops and starts.
 */
const ws = uuidv7();

const test = workerTestAfter(
  async ({ onCleanup }) => {
    const postgres = await OwnPostgres.create();
    onCleanup(() => postgres.destroy());
    const template = `galaxy_blip_template_${randomBytes(4).toString("hex")}`;
    await createDatabase(postgres.url, template);
    await provisionDatabase(withUser(postgres.url, "postgres", template));
    return { postgres, template };
  },
  ({ postgres, template }) => {
    const engines = inject("engines");
    return { databaseUrl: postgres.url, natsUrl: engines.natsUrl, redisUrl: engines.redisUrl, template };
  },
  {},
)
  .extend("postgres", { scope: "file" }, async ({ prelude }) => prelude.postgres)
  /** Model calls the dev model received. */
  .extend("modelCalls", { scope: "file" }, async ({ h }) => {
    const calls = { count: 0 };
    h.devModel.app.server.on("request", (request: { url?: string }) => {
      if (request.url?.includes("/chat/completions")) calls.count += 1;
    });
    return calls;
  });
startHarnessFirst(test, 120_000);

describe("a Postgres restart while executions run", () => {
  test("the runs complete once, on their first attempt, and the model is called once for each", async ({ h, postgres, modelCalls }) => {
    const agent = await h.activeAgent(ws);
    // The model answers while Postgres is down: the end of each run is written into the outage.
    await h.devModel.control({ latencyMs: 1_500 });
    const started = await Promise.all([h.startExecution(ws, agent.id), h.startExecution(ws, agent.id)]);
    await eventually(() => (modelCalls.count === started.length ? true : null), 10_000, "both model calls under way");

    await postgres.stop();
    const stoppedAt = new Date();
    // The answers come at 1.5 s; their writes fail, and are tried again, until Postgres is back.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const restartingAt = new Date();
    await postgres.start();

    for (const execution of started) await h.events.waitFor(execution.id, "execution.completed", 15_000);
    // Long enough for a second attempt's events to show up, were there one.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(modelCalls.count).toBe(started.length);
    for (const execution of started) {
      // An event published before the outage whose mark it lost is published again by the sweep
      // (docs/architecture.md: the same id, dropped by JetStream, seen twice on core NATS): counted once.
      const events = new Map(h.events.of(execution.id).map((event) => [event.id, event.type]));
      expect([...events.values()]).toEqual(["execution.queued", "execution.started", "execution.completed"]);
      const row = await h.row(ws, execution.id);
      expect(row).toMatchObject({ status: "completed", attempt: 1, output: { text: "echo: hello" } });
      // Answered while Postgres was down, recorded once it was back: the write was retried.
      expect(row.completed_at?.getTime()).toBeGreaterThan(stoppedAt.getTime());
      expect(row.completed_at?.getTime()).toBeLessThan(restartingAt.getTime());
      expect(await h.stepStatuses(ws, execution.id)).toEqual(["completed", "completed"]);
    }
  });
});
