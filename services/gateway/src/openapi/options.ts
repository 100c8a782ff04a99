import type { FastifyDynamicSwaggerOptions } from "@fastify/swagger";
import { createJsonSchemaTransform, createJsonSchemaTransformObject } from "fastify-type-provider-zod";
import { apiSchemas } from "./components";
import { finishDocument, type Json } from "./finish";

const transformObject = createJsonSchemaTransformObject({ schemaRegistry: apiSchemas });

/** How the gateway describes itself at `/openapi.json` (OpenAPI 3.1, from the routes' zod schemas). */
export const swaggerOptions: FastifyDynamicSwaggerOptions = {
  openapi: {
    openapi: "3.1.0",
    info: {
      title: "Galaxy API",
      version: "1.0.0",
      description:
        "Define AI agents per workspace and run them. Conventions (authentication, idempotency, pagination, rate limits, errors, the event stream): docs/api.md. Every error is `{error, code, message, details}` (the `Error` schema).",
    },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "A Galaxy access token, or an API key `gxk_…`" } } },
    security: [{ bearer: [] }],
    tags: [
      { name: "auth" }, { name: "workspaces" }, { name: "members" }, { name: "api-keys" }, { name: "provider-credentials" }, { name: "agents" },
      { name: "executions" }, { name: "triggers" }, { name: "knowledge" }, { name: "audit" }, { name: "webhooks" }, { name: "admin" },
    ],
  },
  transform: createJsonSchemaTransform({ schemaRegistry: apiSchemas }),
  transformObject: (input) => finishDocument(transformObject(input) as Json),
};
