import type { TestProject } from "vitest/node";
import { createDatabase, dropDatabase, resolveEngines, TEMPLATE_DATABASE } from "@galaxy/testkit";
import { withUser } from "@galaxy/db";
import { provisionDatabase } from "../scripts/provision";

declare module "vitest" {
  export interface ProvidedContext {
    engines: { databaseUrl: string; natsUrl: string; redisUrl: string };
  }
}

/**
 * Once per run: finds the engines (containers, or the servers running on this machine) and
 * migrates a template database that every test file clones.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const engines = await resolveEngines();
  const templateUrl = withUser(engines.databaseUrl, new URL(engines.databaseUrl).username || "postgres", TEMPLATE_DATABASE);
  await dropDatabase(engines.databaseUrl, TEMPLATE_DATABASE);
  await createDatabase(engines.databaseUrl, TEMPLATE_DATABASE);
  await provisionDatabase(templateUrl);
  project.provide("engines", { databaseUrl: engines.databaseUrl, natsUrl: engines.natsUrl, redisUrl: engines.redisUrl });
  return async () => {
    await engines.stop();
  };
}
