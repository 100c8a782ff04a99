import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ToolSecretReply, Uuid } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import type { RouteDeps } from "./deps";

/** An agent's webhook tools: the secret their calls are signed with. */
export function agentToolRoutes({ bus, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/agents/:id/tool-secret",
      {
        schema: {
          tags: ["agents"], operationId: "getAgentToolSecret",
          summary: "The Standard Webhooks secret (`whsec_…`) Galaxy signs this agent's webhook tool calls with; admins and owners only",
          params: z.object({ id: Uuid }),
          response: { 200: z.object({ data: ToolSecretReply }) },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        const secret = await bus.request("execution.tools.secret", { agentId: request.params.id }, busOptions(request, principal));
        reply.header("cache-control", "no-store");
        return { data: secret };
      },
    );
  };
}
