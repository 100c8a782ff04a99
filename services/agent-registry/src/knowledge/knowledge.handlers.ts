import type { Bus, RequestContext } from "@galaxy/bus";
import type { Caller } from "../agents/agents.service";
import type { KnowledgeService } from "./knowledge.service";

/** The registry's durable consumer of `document.added`: it indexes each added document. */
export const DOCUMENT_INDEXER = "agent-registry-documents";
/** Attempts at indexing a document (retries in place, with backoff) before it is marked `failed`. */
export const INDEXING_ATTEMPTS = 5;

/** Serves the knowledge requests; the bus has parsed each payload and verified its claim. */
export function serveKnowledge(bus: Bus, knowledge: KnowledgeService): void {
  bus.serve("registry.knowledge_bases.create", (body, ctx) => knowledge.createKnowledgeBase(callerOf(ctx), body));
  bus.serve("registry.knowledge_bases.list", (query, ctx) => knowledge.listKnowledgeBases(callerOf(ctx), query));
  bus.serve("registry.knowledge_bases.get", (body, ctx) => knowledge.getKnowledgeBase(callerOf(ctx), body.id));
  bus.serve("registry.documents.add", (body, ctx) => knowledge.addDocument(callerOf(ctx), body));
  bus.serve("registry.documents.list", (query, ctx) => knowledge.listDocuments(callerOf(ctx), query));
  bus.serve("registry.knowledge.query", (body, ctx) => knowledge.query(callerOf(ctx), body));
  bus.serve("registry.knowledge.search", (body, ctx) => knowledge.search(callerOf(ctx), body));
}

/** Starts indexing: every `document.added` of every workspace, once each, after its commit. */
export async function consumeDocuments(bus: Bus, knowledge: KnowledgeService): Promise<void> {
  await bus.consume({
    durable: DOCUMENT_INDEXER,
    filter: "evt.*.document.added",
    maxDeliveries: INDEXING_ATTEMPTS,
    // Embedding a large document takes a while; the bus says `working` while it retries.
    ackWaitMs: 120_000,
    handler: (message) => knowledge.indexDocument(message),
  });
}

function callerOf(ctx: RequestContext): Caller {
  // Every knowledge request is declared `claim: "required"`, so the bus refuses one without a claim.
  if (!ctx.claim) throw new Error("the bus let a registry request without a claim through");
  return { claim: ctx.claim, eventContext: () => ctx.eventContext(), logger: ctx.logger };
}
