import type { FastifySerializerCompiler } from "fastify";
import { ResponseSerializationError } from "fastify-type-provider-zod";
import { z } from "zod";

/**
 * Writes a response after parsing it with its route's response schema, so nothing leaves the
 * gateway that the schema does not describe (keys a strict or plain object does not name are
 * dropped; a value it refuses is a 500 the error handler reports, docs/errors.md).
 *
 * fastify-type-provider-zod's own serializer encodes instead (`z.safeEncode`), which runs
 * codecs backwards; no response schema of Galaxy has a codec, a transform or a caught value
 * (a test walks them all), and zod encodes through its general path where a parse takes the
 * compiled one: an execution's response costs 17 µs to encode and 5 µs to parse
 * (docs/benchmarks.md, "One parse of a response").
 */
export const parsingSerializerCompiler: FastifySerializerCompiler<unknown> = ({ schema, method, url }) => {
  const responseSchema = zodSchemaOf(schema);
  return (data: unknown): string => {
    const result = responseSchema.safeParse(data);
    if (!result.success) throw new ResponseSerializationError(method, url, { cause: result.error });
    return JSON.stringify(result.data);
  };
};

/** The route's zod schema, as fastify hands it: the schema itself, or under `properties` once @fastify/swagger has seen it. */
function zodSchemaOf(schema: unknown): z.ZodType {
  if (schema instanceof z.ZodType) return schema;
  if (typeof schema === "object" && schema !== null && "properties" in schema && schema.properties instanceof z.ZodType) return schema.properties;
  throw new Error(`a response schema of the gateway is not a zod schema: ${JSON.stringify(schema)}`);
}
