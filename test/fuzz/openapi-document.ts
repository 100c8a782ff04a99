import { z } from "zod";

/** The part of a JSON Schema (as `/openapi.json` writes it) that the fuzz test generates values from. */
export interface JsonSchema {
  type?: string | string[] | undefined;
  enum?: unknown[] | undefined;
  const?: unknown;
  format?: string | undefined;
  pattern?: string | undefined;
  minLength?: number | undefined;
  maxLength?: number | undefined;
  minimum?: number | undefined;
  maximum?: number | undefined;
  exclusiveMinimum?: number | undefined;
  exclusiveMaximum?: number | undefined;
  items?: JsonSchema | undefined;
  minItems?: number | undefined;
  maxItems?: number | undefined;
  properties?: Record<string, JsonSchema> | undefined;
  required?: string[] | undefined;
  oneOf?: JsonSchema[] | undefined;
  anyOf?: JsonSchema[] | undefined;
  allOf?: JsonSchema[] | undefined;
}

export const JsonSchema: z.ZodType<JsonSchema> = z.lazy(() =>
  z.looseObject({
    type: z.union([z.string(), z.array(z.string())]).optional(),
    enum: z.array(z.unknown()).optional(),
    const: z.unknown().optional(),
    format: z.string().optional(),
    pattern: z.string().optional(),
    minLength: z.number().optional(),
    maxLength: z.number().optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    exclusiveMinimum: z.number().optional(),
    exclusiveMaximum: z.number().optional(),
    items: JsonSchema.optional(),
    minItems: z.number().optional(),
    maxItems: z.number().optional(),
    properties: z.record(z.string(), JsonSchema).optional(),
    required: z.array(z.string()).optional(),
    oneOf: z.array(JsonSchema).optional(),
    anyOf: z.array(JsonSchema).optional(),
    allOf: z.array(JsonSchema).optional(),
  }),
);

const Parameter = z.object({ in: z.enum(["path", "query", "header", "cookie"]), name: z.string(), required: z.boolean().optional(), schema: JsonSchema });

const Operation = z.looseObject({
  parameters: z.array(Parameter).optional(),
  requestBody: z.object({ content: z.record(z.string(), z.object({ schema: JsonSchema })) }).optional(),
  security: z.array(z.record(z.string(), z.array(z.string()))).optional(),
});

export const OpenApiDocument = z.looseObject({
  openapi: z.string().startsWith("3."),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
});

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

export interface Param {
  name: string;
  required: boolean;
  schema: JsonSchema;
}

/** One operation of the document, as the fuzz test calls it. */
export interface Operation {
  method: Uppercase<(typeof METHODS)[number]>;
  /** The path template, `/api/agents/{id}`. */
  path: string;
  pathParams: Param[];
  queryParams: Param[];
  /** The JSON body's schema, when the operation takes one. */
  body: JsonSchema | undefined;
}

/** How deep `$ref`s are followed: the document's schemas nest far less; a cycle stops here. */
const MAX_REF_DEPTH = 24;

/**
 * The document with every local `$ref` (`#/components/...`: named schemas, shared parameters)
 * replaced by what it names, so operations can be read and generated from as written inline.
 */
export function dereference(document: unknown): unknown {
  const resolve = (pointer: string): unknown =>
    pointer
      .replace(/^#\//, "")
      .split("/")
      .reduce<unknown>((node, key) => (typeof node === "object" && node !== null ? (node as Record<string, unknown>)[key.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined), document);
  const walk = (node: unknown, depth: number): unknown => {
    if (Array.isArray(node)) return node.map((item) => walk(item, depth));
    if (typeof node !== "object" || node === null) return node;
    const ref = (node as Record<string, unknown>)["$ref"];
    if (typeof ref === "string" && ref.startsWith("#/")) return depth >= MAX_REF_DEPTH ? {} : walk(resolve(ref), depth + 1);
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value, depth)]));
  };
  return walk(document, 0);
}

/** Every operation of the document (each method of each path). */
export function operationsOf(document: unknown): Operation[] {
  const doc = OpenApiDocument.parse(dereference(document));
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      if (item[method] === undefined) continue;
      const op = Operation.parse(item[method]);
      const params = op.parameters ?? [];
      const param = (p: z.infer<typeof Parameter>): Param => ({ name: p.name, required: p.required ?? false, schema: p.schema });
      operations.push({
        method: method.toUpperCase() as Operation["method"],
        path,
        pathParams: params.filter((p) => p.in === "path").map(param),
        queryParams: params.filter((p) => p.in === "query").map(param),
        body: op.requestBody?.content["application/json"]?.schema,
      });
    }
  }
  return operations;
}
