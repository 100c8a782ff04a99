import type { TestProject } from "vitest/node";
import { randomBytes } from "node:crypto";
import { createDatabase, dropDatabase, resolveEngines } from "@galaxy/testkit";
import { withUser } from "@galaxy/db";
import { provisionDatabase } from "../scripts/provision";

declare module "vitest" {
  export interface ProvidedContext {
    engines: { databaseUrl: string; natsUrl: string; redisUrl: string; template: string };
  }
}

/**
 * Once per run: finds the engines (containers, or the servers running on this machine) and
 * migrates a template database that every test file clones.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const engines = await resolveEngines();
  // A template of this run's own, so runs side by side (two developers, CI) never drop each other's.
  const template = `galaxy_test_template_${randomBytes(4).toString("hex")}`;
  const templateUrl = withUser(engines.databaseUrl, new URL(engines.databaseUrl).username || "postgres", template);
  await createDatabase(engines.databaseUrl, template);
  await provisionDatabase(templateUrl);
  project.provide("engines", { databaseUrl: engines.databaseUrl, natsUrl: engines.natsUrl, redisUrl: engines.redisUrl, template });
  return async () => {
    await dropDatabase(engines.databaseUrl, template);
    await engines.stop();
  };
}
