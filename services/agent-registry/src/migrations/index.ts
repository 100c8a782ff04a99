import type { Migration } from "@galaxy/db";
import * as createAgents from "./2026_11_26_00_10_00_create_agents";
import * as createAgentExistsElsewhere from "./2026_11_26_01_50_00_create_agent_exists_elsewhere";
import * as addAgentsCreatedByUser from "./2026_11_26_02_10_00_add_agents_created_by_user";

/** This service's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {
  "2026_11_26_00_10_00_create_agents": createAgents,
  "2026_11_26_01_50_00_create_agent_exists_elsewhere": createAgentExistsElsewhere,
  "2026_11_26_02_10_00_add_agents_created_by_user": addAgentsCreatedByUser,
};
