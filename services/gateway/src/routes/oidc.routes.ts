import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { assertStorable, ClerkUserEvent, GalaxyError, UnauthorizedError, UserSyncResult, ValidationError, issueDetails } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { verifyWebhook, WEBHOOK_REFUSALS } from "@galaxy/webhooks";
import type { RouteDeps } from "./deps";

/** The largest user-sync delivery accepted (docs/api.md: 413 above 1 MiB). */
const WEBHOOK_BODY_LIMIT = 1024 * 1024;

const SyncAnswer = z.object({ data: z.object({ status: z.enum(["applied", "duplicate", "skipped", "ignored"]), userId: UserSyncResult.shape.userId }) });

export interface OidcWebhookOptions {
  /** `OIDC_WEBHOOK_SECRET` (`whsec_…`; several, comma-separated, during a rotation); empty: the route answers 404. */
  secrets: readonly string[];
  /** Drops this instance's cached claims of a deleted user at once (other instances hear `user.deleted`). */
  forgetUser: (userId: string) => void;
}

/**
 * `POST /hooks/identity/clerk`: the identity provider's user-sync webhooks (`user.created`,
 * `user.updated`, `user.deleted`), signed the Standard Webhooks way (docs/webhooks.md). The body is
 * kept raw for the signature; this plugin's content-type parser applies to this route alone.
 */
export function oidcWebhookRoutes({ bus }: RouteDeps, options: OidcWebhookOptions): FastifyPluginAsyncZod {
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));

    app.post(
      "/hooks/identity/clerk",
      {
        bodyLimit: WEBHOOK_BODY_LIMIT,
        schema: {
          tags: ["webhooks"], operationId: "receiveIdentityWebhook",
          summary: "User sync from the identity provider (Clerk), signed the Standard Webhooks way",
          description:
            "Headers `webhook-id`, `webhook-timestamp`, `webhook-signature` (HMAC-SHA256 under `OIDC_WEBHOOK_SECRET`). `user.created` creates or links the user, `user.updated` changes email and name, `user.deleted` soft-deletes the user (its tokens stop working). A repeated `webhook-id` changes nothing. Other event types are acknowledged and ignored.",
          security: [],
          response: { 200: SyncAnswer },
        },
      },
      async (request) => {
        if (options.secrets.length === 0) throw new GalaxyError(404, "oidc_not_configured", "No identity provider webhook secret is configured");
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const verdict = verifyWebhook(
          options.secrets,
          { id: single(request.headers["webhook-id"]), timestamp: single(request.headers["webhook-timestamp"]), signature: single(request.headers["webhook-signature"]) },
          raw,
          Math.floor(Date.now() / 1000),
        );
        if (!verdict.ok) {
          const refusal = WEBHOOK_REFUSALS[verdict.reason];
          throw new UnauthorizedError(refusal.message, refusal.code);
        }
        let json: unknown;
        try {
          json = JSON.parse(raw.toString("utf8"));
        } catch {
          throw new ValidationError("The body is not valid JSON", undefined, "malformed_json");
        }
        assertStorable(json, "body");
        const type = z.object({ type: z.string() }).safeParse(json);
        if (!type.success) throw new ValidationError("The body is not a provider event", issueDetails(type.error));
        // The provider may send event types Galaxy does not apply: acknowledged, so it stops retrying.
        if (!["user.created", "user.updated", "user.deleted"].includes(type.data.type)) return { data: { status: "ignored" as const, userId: null } };
        const event = ClerkUserEvent.safeParse(json);
        if (!event.success) throw new ValidationError("The user event is invalid", issueDetails(event.error));
        const result = await bus.request("identity.users.sync", { webhookId: verdict.id, event: event.data }, busOptions(request));
        if (event.data.type === "user.deleted" && result.userId) options.forgetUser(result.userId);
        return { data: { status: result.status, userId: result.userId } };
      },
    );
  };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
