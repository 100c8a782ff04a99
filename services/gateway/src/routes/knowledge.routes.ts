import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import {
  AddDocumentBody, CreateKnowledgeBaseBody, DocumentListQuery, KnowledgeBase, KnowledgeDocument, KnowledgeQueryBody, KnowledgeQueryResult, PageQuery, Pagination,
  Uuid,
} from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { respond } from "../http/respond";
import type { RouteDeps } from "./deps";

const KnowledgeBaseParams = z.object({ id: Uuid });

/** Knowledge bases: create, list, read; add documents (indexed asynchronously), list them, query. */
export function knowledgeRoutes({ bus, db, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/api/knowledge-bases",
      { schema: { tags: ["knowledge"], operationId: "createKnowledgeBase", summary: "Create a knowledge base", body: CreateKnowledgeBaseBody, response: { 201: z.object({ data: KnowledgeBase }) } } },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => ({ status: 201, body: { data: await bus.request("registry.knowledge_bases.create", request.body, busOptions(request, principal)) } }));
      },
    );

    app.get(
      "/api/knowledge-bases",
      { schema: { tags: ["knowledge"], operationId: "listKnowledgeBases", summary: "List the workspace's knowledge bases", querystring: PageQuery, response: { 200: z.object({ data: z.array(KnowledgeBase), pagination: Pagination }) } } },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("registry.knowledge_bases.list", request.query, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.get(
      "/api/knowledge-bases/:id",
      { schema: { tags: ["knowledge"], operationId: "getKnowledgeBase", summary: "Read a knowledge base", params: KnowledgeBaseParams, response: { 200: z.object({ data: KnowledgeBase }) } } },
      async (request) => {
        const principal = await auth.authenticate(request);
        return { data: await bus.request("registry.knowledge_bases.get", { id: request.params.id }, busOptions(request, principal)) };
      },
    );

    app.post(
      "/api/knowledge-bases/:id/documents",
      {
        schema: {
          tags: ["knowledge"], operationId: "addDocument",
          summary: "Add a document (at most 512 KiB of text); it is chunked and embedded asynchronously, status `pending` until `indexed` or `failed`",
          params: KnowledgeBaseParams,
          body: AddDocumentBody,
          response: { 202: z.object({ data: KnowledgeDocument }) },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => ({
          status: 202,
          body: { data: await bus.request("registry.documents.add", { ...request.body, knowledgeBaseId: request.params.id }, busOptions(request, principal)) },
        }));
      },
    );

    app.get(
      "/api/knowledge-bases/:id/documents",
      {
        schema: {
          tags: ["knowledge"], operationId: "listDocuments",
          summary: "List a knowledge base's documents with their indexing status",
          params: KnowledgeBaseParams,
          querystring: PageQuery.extend(DocumentListQuery.shape),
          response: { 200: z.object({ data: z.array(KnowledgeDocument), pagination: Pagination }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("registry.documents.list", { ...request.query, knowledgeBaseId: request.params.id }, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    // A read: no idempotency record, any number of repeats answer alike.
    app.post(
      "/api/knowledge-bases/:id/query",
      {
        schema: {
          tags: ["knowledge"], operationId: "queryKnowledgeBase",
          summary: "The chunks of the knowledge base closest to a query, best first (cosine similarity)",
          params: KnowledgeBaseParams,
          body: KnowledgeQueryBody,
          response: { 200: z.object({ data: z.array(KnowledgeQueryResult) }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        return { data: await bus.request("registry.knowledge.query", { ...request.body, knowledgeBaseId: request.params.id }, busOptions(request, principal)) };
      },
    );
  };
}
