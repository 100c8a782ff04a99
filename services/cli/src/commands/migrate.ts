import type { Bus } from "@galaxy/bus";
import { provisionDatabase } from "../../../../scripts/provision";
import type { CliEnv } from "../config";

export interface MigrationReport {
  services: string[];
  streams: string[];
}

/**
 * `galaxy migrate`: creates the database, each service's roles and schema, runs every
 * migration, and provisions the EVENTS and DEAD_LETTERS streams. Safe to run again.
 */
export async function migrate(env: CliEnv & { DATABASE_URL: string }, bus: Bus): Promise<MigrationReport> {
  const services: string[] = [];
  await provisionDatabase(env.DATABASE_URL, (line) => services.push(line));
  await bus.provision();
  return { services, streams: [bus.stream("EVENTS"), bus.stream("DEAD_LETTERS")] };
}

export function describeMigration(report: MigrationReport): string {
  return [...report.services, `streams ${report.streams.join(" and ")} ready`].join("\n");
}

