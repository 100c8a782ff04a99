import { outboxRetentionMigration, type Migration } from "@galaxy/db";
import * as createAgents from "./2026_11_26_00_10_00_create_agents";
import * as createAgentExistsElsewhere from "./2026_11_26_01_50_00_create_agent_exists_elsewhere";
import * as addAgentsCreatedByUser from "./2026_11_26_02_10_00_add_agents_created_by_user";
import * as addAgentNotifySecrets from "./2026_11_26_10_00_00_add_agent_notify_secrets";
import * as createKnowledge from "./2026_11_26_11_00_00_create_knowledge";
import * as createTriggers from "./2026_11_26_14_00_00_create_triggers";
import * as addKnowledgeEmbeddingSource from "./2026_11_26_17_00_00_add_knowledge_embedding_source";
import * as addKnowledgeEmbeddingProvider from "./2026_12_04_22_00_00_add_knowledge_embedding_provider";
import * as deliveryTriggerReadsInputSchema from "./2026_12_07_22_30_00_delivery_trigger_reads_input_schema";

/** This service's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {
  "2026_11_26_00_10_00_create_agents": createAgents,
  "2026_11_26_01_50_00_create_agent_exists_elsewhere": createAgentExistsElsewhere,
  "2026_11_26_02_10_00_add_agents_created_by_user": addAgentsCreatedByUser,
  "2026_11_26_10_00_00_add_agent_notify_secrets": addAgentNotifySecrets,
  "2026_11_26_11_00_00_create_knowledge": createKnowledge,
  "2026_11_26_14_00_00_create_triggers": createTriggers,
  "2026_11_26_17_00_00_add_knowledge_embedding_source": addKnowledgeEmbeddingSource,
  "2026_12_04_22_00_00_add_knowledge_embedding_provider": addKnowledgeEmbeddingProvider,
  "2026_12_06_07_40_00_outbox_keeps_recent_rows": outboxRetentionMigration("agent-registry"),
  "2026_12_07_22_30_00_delivery_trigger_reads_input_schema": deliveryTriggerReadsInputSchema,
};
