import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { AgentTriggerParams, CreatedTrigger, CreateTriggerBody, PageQuery, Pagination, RotatedTriggerSecret, Trigger, TriggerParams } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { respond, respondShowingSecretOnce } from "../http/respond";
import type { RouteDeps } from "./deps";

/** Triggers of an agent: webhook triggers (signed deliveries to `/hooks/{id}`) and cron schedules. */
export function triggerRoutes({ bus, db, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/api/agents/:id/triggers",
      {
        schema: {
          tags: ["triggers"], operationId: "createTrigger",
          summary: "Create a trigger: a webhook (its `secret` is shown only in this answer) or a cron schedule",
          description:
            "`{type: \"webhook\"}` answers `url` (`/hooks/{id}`) and `secret` (`whsec_…`): sign deliveries with it the Standard Webhooks way. `{type: \"schedule\", cron, timezone?, input?}` runs the agent on a cron expression (5 fields, or 6 with seconds first) in an IANA time zone (default UTC), with `input` as each execution's input. Repeating the request with the same `Idempotency-Key` answers the trigger without its secret.",
          params: AgentTriggerParams,
          body: CreateTriggerBody,
          response: { 201: z.object({ data: CreatedTrigger }) },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respondShowingSecretOnce(db, request, reply, principal, 201, "secret", () =>
          bus.request("registry.triggers.create", { agentId: request.params.id, trigger: request.body }, busOptions(request, principal)),
        );
      },
    );

    app.get(
      "/api/agents/:id/triggers",
      {
        schema: {
          tags: ["triggers"], operationId: "listTriggers",
          summary: "List an agent's triggers, newest first, without their secrets",
          params: AgentTriggerParams,
          querystring: PageQuery,
          response: { 200: z.object({ data: z.array(Trigger), pagination: Pagination }) },
        },
      },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("registry.triggers.list", { agentId: request.params.id, ...request.query }, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.delete(
      "/api/agents/:id/triggers/:triggerId",
      {
        schema: {
          tags: ["triggers"], operationId: "deleteTrigger",
          summary: "Delete a trigger: its webhook answers 404 and its schedule stops ticking",
          params: TriggerParams,
          response: { 204: z.null().describe("Deleted") },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => {
          await bus.request("registry.triggers.delete", { agentId: request.params.id, triggerId: request.params.triggerId }, busOptions(request, principal));
          return { status: 204, body: null };
        });
      },
    );

    app.post(
      "/api/agents/:id/triggers/:triggerId/rotate-secret",
      {
        schema: {
          tags: ["triggers"], operationId: "rotateTriggerSecret",
          summary: "Give a webhook trigger a new secret (shown only in this answer); the old one keeps verifying for 24 h",
          params: TriggerParams,
          // A replay (same Idempotency-Key) answers without the secret, which the gateway never keeps.
          response: { 200: z.object({ data: RotatedTriggerSecret.extend({ secret: RotatedTriggerSecret.shape.secret.optional() }) }) },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respondShowingSecretOnce(db, request, reply, principal, 200, "secret", () =>
          bus.request("registry.triggers.rotate_secret", { agentId: request.params.id, triggerId: request.params.triggerId }, busOptions(request, principal)),
        );
      },
    );
  };
}
