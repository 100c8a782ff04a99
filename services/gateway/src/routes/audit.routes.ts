import { Readable } from "node:stream";
import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { AuditEntry, AuditLogQuery, AuditVerification, CursorPageQuery, Pagination, type AuditExportPage } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import type { RouteDeps } from "./deps";

/** Entries per bus request while an export streams: the gateway holds one page at a time. */
const EXPORT_PAGE_SIZE = 500;

/** The workspace's audit log: list, verify the hash chain, export (admins and owners; docs/api.md). */
export function auditRoutes({ bus, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/audit-logs",
      {
        schema: {
          tags: ["audit"], operationId: "listAuditLogs",
          summary: "The workspace's audit log, newest first (admins and owners)",
          description: "Filters: `action` (the event type), `resourceType`, `resourceId`, `actorId`, and the half-open time range [`since`, `until`).",
          querystring: CursorPageQuery.extend(AuditLogQuery.shape),
          response: { 200: z.object({ data: z.array(AuditEntry), pagination: Pagination }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("audit.logs.list", request.query, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.get(
      "/api/audit-logs/verify",
      {
        schema: {
          tags: ["audit"], operationId: "verifyAuditLogs",
          summary: "Check the workspace's hash chain end to end (admins and owners)",
          description:
            "Recomputes every entry's hash from the retention checkpoint (or genesis) to the head. `valid: false` names the first `seq` where the chain is not intact (`reason`: `hash_mismatch`, `prev_hash_mismatch` or `seq_gap`).",
          response: { 200: z.object({ data: AuditVerification }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        return { data: await bus.request("audit.logs.verify", {}, { ...busOptions(request, principal), timeoutMs: 120_000 }) };
      },
    );

    app.get(
      "/api/audit-logs/export",
      {
        schema: {
          tags: ["audit"], operationId: "exportAuditLogs",
          summary: "Export the workspace's audit log as NDJSON, oldest first (admins and owners)",
          description:
            "`application/x-ndjson`: one audit entry per line, in chain order, with the same filters as the list. Unfiltered, the lines are the chain itself and can be verified offline from the first entry's `prevHash`. The export ends at the head as it was when the export began. The caller's access is checked again for every page: when it ends (the member removed, the key revoked) or a page cannot be read, the transfer is aborted (the connection closes before the chunked body ends), so a complete download is always the whole export.",
          querystring: AuditLogQuery,
        },
      },
      async (request, reply) => {
        // Each page with the claim as it is now (from the principal's claim cache, renewed
        // before it expires): a long export neither outlives the caller's access nor fails
        // halfway on a claim that expired.
        const fetchPage = async (afterSeq: number, throughSeq?: number): Promise<AuditExportPage> =>
          bus.request(
            "audit.logs.export_page",
            { ...request.query, afterSeq, limit: EXPORT_PAGE_SIZE, ...(throughSeq === undefined ? {} : { throughSeq }) },
            busOptions(request, await auth.authenticateNow(request)),
          );
        // The first page is read before the answer starts, so a refusal is still a 4xx.
        const first = await fetchPage(0);
        async function* lines(): AsyncGenerator<string> {
          let page = first;
          for (;;) {
            if (page.items.length > 0) yield page.items.map((entry) => `${JSON.stringify(entry)}\n`).join("");
            const last = page.items.at(-1);
            if (!last || page.items.length < EXPORT_PAGE_SIZE || last.seq >= page.throughSeq) return;
            page = await fetchPage(last.seq, page.throughSeq);
          }
        }
        // One page read ahead at most.
        const body = Readable.from(lines(), { highWaterMark: 1 });
        body.on("error", (error) => {
          request.log.error({ err: error }, "audit export stopped before its end");
          // Aborted, not ended: the client must not take what it got for the whole export.
          reply.raw.destroy(error);
        });
        return reply.header("content-type", "application/x-ndjson; charset=utf-8").header("content-disposition", 'attachment; filename="audit-log.ndjson"').send(body);
      },
    );
  };
}
