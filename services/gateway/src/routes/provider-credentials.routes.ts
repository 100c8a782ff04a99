import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { CredentialProvider, CredentialStored, CredentialSummary, PageQuery, Pagination, PutCredentialBody } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { respond } from "../http/respond";
import type { RouteDeps } from "./deps";

const ProviderParams = z.object({ provider: CredentialProvider });

/** The workspace's provider keys (admins and owners): set, list without keys, delete. */
export function providerCredentialRoutes({ bus, db, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    // No idempotency record: its request hash would be a digest of the provider key, kept
    // for a day in the gateway's schema (docs/decisions/0005). A PUT is idempotent by itself:
    // the same body again leaves the same credential.
    app.put(
      "/api/provider-credentials/:provider",
      {
        schema: {
          tags: ["provider-credentials"], operationId: "putProviderCredential",
          summary: "Set the workspace's key for a provider; the key is never returned, only its last four characters",
          params: ProviderParams,
          body: PutCredentialBody,
          response: { 200: z.object({ data: CredentialStored }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        return { data: await bus.request("identity.credentials.put", { ...request.body, provider: request.params.provider }, busOptions(request, principal)) };
      },
    );

    app.get(
      "/api/provider-credentials",
      {
        schema: {
          tags: ["provider-credentials"], operationId: "listProviderCredentials",
          summary: "The workspace's provider keys, by last four characters",
          querystring: PageQuery,
          response: { 200: z.object({ data: z.array(CredentialSummary), pagination: Pagination }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("identity.credentials.list", request.query, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.delete(
      "/api/provider-credentials/:provider",
      { schema: { tags: ["provider-credentials"], operationId: "deleteProviderCredential", summary: "Delete the workspace's key for a provider", params: ProviderParams, response: { 204: z.null().describe("Deleted") } } },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => {
          await bus.request("identity.credentials.delete", { provider: request.params.provider }, busOptions(request, principal));
          return { status: 204, body: null };
        });
      },
    );
  };
}
