import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { CallbackDelivery, CursorPageQuery, Pagination, Uuid } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import type { RouteDeps } from "./deps";

/** Completion callbacks: every attempt to POST an execution's terminal event to its agent's `notifyUrl`. */
export function deliveryRoutes({ bus, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/executions/:id/deliveries",
      {
        schema: {
          tags: ["executions"], operationId: "listExecutionDeliveries",
          summary: "The execution's completion-callback attempts, in order; a pending one is the next retry, with when it is due",
          params: z.object({ id: Uuid }),
          querystring: CursorPageQuery,
          response: { 200: z.object({ data: z.array(CallbackDelivery), pagination: Pagination }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("execution.deliveries.list", { id: request.params.id, ...request.query }, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );
  };
}
