import { z } from "zod";
import { CommonEnv, EmbeddingProvider, parseEnv } from "@galaxy/contracts";
import { runBusService } from "@galaxy/runtime";
import { parsePreviousMasterKeys } from "@galaxy/secrets";
import { parseAllowlist } from "@galaxy/webhooks";
import { createAgentRegistry } from "./app";
import { scheduleQueueName } from "./triggers/schedules";
import type { KnowledgeSettings } from "./knowledge/knowledge.module";
import type { RegistryDb } from "./db";

const env = parseEnv(
  CommonEnv.extend({
    AGENT_REGISTRY_PORT: z.coerce.number().int().min(0).max(65535).default(8082),
    GALAXY_MASTER_KEY: z.string().min(1, "is required (32 bytes, base64); `make up` generates one"),
    GALAXY_MASTER_KEY_PREVIOUS: z.string().optional(),
    // Knowledge bases (docs/operations.md): unset, the dev model server embeds and Postgres keeps the vectors.
    OPENAI_API_KEY: z.string().min(1).optional(),
    OPENAI_BASE_URL: z.url().optional(),
    KNOWLEDGE_EMBEDDING_MODEL: z.string().min(1).optional(),
    GOOGLE_API_KEY: z.string().min(1).optional(),
    GOOGLE_BASE_URL: z.url().optional(),
    KNOWLEDGE_GOOGLE_EMBEDDING_MODEL: z.string().min(1).optional(),
    KNOWLEDGE_EMBEDDING_PROVIDER: EmbeddingProvider.optional(),
    PINECONE_API_KEY: z.string().min(1).optional(),
    PINECONE_INDEX: z.string().min(1).optional(),
    PINECONE_INDEX_HOST: z.url().optional(),
    PINECONE_CONTROLLER_HOST: z.url().optional(),
    // Where a workspace's own OpenAI, Google or Pinecone base URL may point (as for webhook tools).
    OUTBOUND_HOST_ALLOWLIST: z.string().optional(),
  }),
);

/** With a real OpenAI (or Google) key and no model named, embeddings use that provider's own embedding model. */
function knowledgeSettings(): KnowledgeSettings {
  return {
    openaiApiKey: env.OPENAI_API_KEY,
    openaiBaseUrl: env.OPENAI_BASE_URL,
    embeddingModel: env.KNOWLEDGE_EMBEDDING_MODEL ?? (env.OPENAI_API_KEY && !env.OPENAI_BASE_URL ? "text-embedding-3-small" : undefined),
    googleApiKey: env.GOOGLE_API_KEY,
    googleBaseUrl: env.GOOGLE_BASE_URL,
    googleEmbeddingModel: env.KNOWLEDGE_GOOGLE_EMBEDDING_MODEL ?? (env.GOOGLE_API_KEY && !env.GOOGLE_BASE_URL ? "gemini-embedding-001" : undefined),
    embeddingProvider: env.KNOWLEDGE_EMBEDDING_PROVIDER,
    pineconeApiKey: env.PINECONE_API_KEY,
    pineconeIndex: env.PINECONE_INDEX,
    pineconeIndexHost: env.PINECONE_INDEX_HOST,
    pineconeControllerHost: env.PINECONE_CONTROLLER_HOST,
    outboundPolicy: parseAllowlist(env.OUTBOUND_HOST_ALLOWLIST),
  };
}

await runBusService<RegistryDb>({
  service: "agent-registry",
  env,
  opsPort: env.AGENT_REGISTRY_PORT,
  build: ({ db, bus, logger }) => createAgentRegistry({ db, bus, logger, masterKey: env.GALAXY_MASTER_KEY, previousMasterKeys: parsePreviousMasterKeys(env.GALAXY_MASTER_KEY_PREVIOUS), schedules: { redisUrl: env.REDIS_URL, queueName: scheduleQueueName(env.GALAXY_BUS_PREFIX) }, knowledge: knowledgeSettings() }),
});
