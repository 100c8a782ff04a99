import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from "fastify";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import { validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import type { Bus } from "@galaxy/bus";
import { uuidv7 } from "@galaxy/contracts";
import { isDbReachable, type Kysely } from "@galaxy/db";
import { Histogram, observeIntake, type Logger, type Registry } from "@galaxy/observability";
import { Authenticator } from "./auth/principal";
import { LoginThrottle } from "./auth/login-throttle";
import type { GatewayDb } from "./db";
import { installRequestContext } from "./http/context";
import { answerClientError, installErrorHandling, renderError } from "./http/errors";
import { installBodyIntake } from "./http/body-intake";
import { consoleRoutes } from "./http/console";
import { ApiRateLimiter, type ApiRateLimitOptions } from "./http/rate-limit";
import { parsingSerializerCompiler } from "./http/response-serializer";
import { swaggerOptions } from "./openapi/options";
import { agentRoutes } from "./routes/agents.routes";
import { agentToolRoutes } from "./routes/agent-tools.routes";
import { adminRoutes } from "./routes/admin.routes";
import { apiKeyRoutes } from "./routes/api-keys.routes";
import { authRoutes } from "./routes/auth.routes";
import { memberRoutes } from "./routes/members.routes";
import { workspaceRoutes } from "./routes/workspaces.routes";
import { executionRoutes } from "./routes/executions.routes";
import { FINISHED_EXECUTIONS_DEFAULT_MB, FinishedExecutions } from "./routes/finished-executions";
import { auditRoutes } from "./routes/audit.routes";
import { deliveryRoutes } from "./routes/deliveries.routes";
import { knowledgeRoutes } from "./routes/knowledge.routes";
import { providerCredentialRoutes } from "./routes/provider-credentials.routes";
import { oidcWebhookRoutes } from "./routes/oidc.routes";
import { hookRoutes, type HookRateLimit } from "./routes/hooks.routes";
import { triggerDeliveryRoutes } from "./routes/trigger-deliveries.routes";
import { executionChangeRoutes } from "./routes/execution-changes.routes";
import { oidcSignInRoutes } from "./routes/oidc-sign-in.routes";
import type { OidcSignIn } from "./auth/oidc-sign-in";
import { triggerRoutes } from "./routes/triggers.routes";
import { RequestLog } from "./http/request-log";
import { requestLoggers } from "./http/request-logger";

export interface GatewayDeps {
  bus: Bus;
  db: Kysely<GatewayDb>;
  redis: Redis;
  logger: Logger;
  metrics: Registry;
  /** Trust `X-Forwarded-For` from a proxy in front (the client IP of audit entries). */
  trustProxy?: boolean;
  /** `OIDC_WEBHOOK_SECRET`: the identity provider's user-sync webhook secrets (`whsec_…`); empty, `/hooks/identity/clerk` answers 404. */
  oidcWebhookSecrets?: readonly string[];
  /** The browser sign-in with the OIDC provider (`OIDC_AUTHORIZATION_URL`, …); absent, `GET /api/auth/oidc` says it is off. */
  oidcSignIn?: OidcSignIn | undefined;
  /** Deliveries per trigger per window on `POST /hooks/{triggerId}` (default 600 a minute). */
  webhookRateLimit?: HookRateLimit;
  /** `GATEWAY_FINISHED_EXECUTIONS_MB`: memory for the answers of finished executions read before (default 16; 0 keeps none). */
  finishedExecutionsMb?: number;
  /** Requests per window on `/api/*`, by tier (default `API_RATE_LIMITS`: per minute). */
  apiRateLimit?: ApiRateLimitOptions;
  /** A request at least this long is logged at `warn` (default `SLOW_REQUEST_MS`, 1 s); faster ones at `debug`. */
  slowRequestMs?: number;
  /** Told of every route as it is registered (the OpenAPI test checks each one is documented). */
  onRoute?: (route: RouteOptions) => void;
}

/** The largest body Galaxy accepts (docs/api.md: 413 above it). */
export const BODY_LIMIT = 1024 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the gateway; `main.ts` listens, tests use `app.inject()` or listen on a free port. */
export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const base = Fastify({
    loggerInstance,
    logController: new RequestLog(deps.slowRequestMs),
    childLoggerFactory: requestLoggers(deps.logger),
    bodyLimit: BODY_LIMIT,
    trustProxy: deps.trustProxy ?? false,
    genReqId: (req) => {
      const incoming = req.headers["x-request-id"];
      return typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : uuidv7();
    },
    // While closing, requests already on open connections are answered normally (in the
    // contract's format); new connections are refused by the closed listener.
    return503OnClosing: false,
    // Fastify's own refusals (a bad URL, an overlong path segment) and Node's (headers over
    // 16 KiB, bytes that are not HTTP) answer in the documented shape too (docs/errors.md).
    frameworkErrors: renderError,
    clientErrorHandler: answerClientError,
  });
  base.setValidatorCompiler(validatorCompiler);
  base.setSerializerCompiler(parsingSerializerCompiler);
  installRequestContext(base);
  installErrorHandling(base);
  installBodyIntake(base);
  installHttpMetrics(base, deps.metrics);
  if (deps.onRoute) base.addHook("onRoute", deps.onRoute);
  const app = base.withTypeProvider<ZodTypeProvider>();

  await app.register(fastifySwagger, swaggerOptions);
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  const auth = new Authenticator(deps.bus);
  const routeDeps = { bus: deps.bus, db: deps.db, auth };
  new ApiRateLimiter(deps.redis, auth, deps.apiRateLimit).install(app);
  await app.register(authRoutes(routeDeps, new LoginThrottle(deps.redis)));
  await app.register(workspaceRoutes(routeDeps));
  await app.register(memberRoutes(routeDeps));
  await app.register(agentRoutes(routeDeps));
  await app.register(agentToolRoutes(routeDeps));
  await app.register(executionRoutes(routeDeps, new FinishedExecutions((deps.finishedExecutionsMb ?? FINISHED_EXECUTIONS_DEFAULT_MB) * 1024 * 1024, deps.metrics, deps.bus.claims)));
  await app.register(executionChangeRoutes(routeDeps));
  await app.register(oidcSignInRoutes(routeDeps, deps.oidcSignIn));
  await app.register(auditRoutes(routeDeps));
  await app.register(deliveryRoutes(routeDeps));
  await app.register(knowledgeRoutes(routeDeps));
  await app.register(providerCredentialRoutes(routeDeps));
  await app.register(apiKeyRoutes(routeDeps));
  await app.register(triggerRoutes(routeDeps));
  await app.register(triggerDeliveryRoutes(routeDeps, { redis: deps.redis }));
  await app.register(hookRoutes(routeDeps, { redis: deps.redis, rateLimit: deps.webhookRateLimit }));
  await app.register(oidcWebhookRoutes(routeDeps, { secrets: deps.oidcWebhookSecrets ?? [], forgetUser: (userId) => auth.forgetUser(userId) }));
  await app.register(adminRoutes(routeDeps, { redis: deps.redis }));
  await app.register(consoleRoutes());

  app.get("/health/live", { schema: { hide: true } }, async () => ({ status: "ok" }));
  app.get("/health/ready", { schema: { hide: true } }, async (_request, reply) => {
    const checks = {
      bus: deps.bus.isConnected(),
      database: await isDbReachable(deps.db),
      redis: await deps.redis
        .ping()
        .then((pong) => pong === "PONG")
        .catch(() => false),
    };
    const ready = Object.values(checks).every(Boolean);
    return reply.status(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready", checks });
  });
  return base;
}

function installHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const duration = new Histogram({
    name: "galaxy_http_request_duration_seconds",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    duration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    observeIntake(registry, request.method, route, reply.statusCode);
  });
}
