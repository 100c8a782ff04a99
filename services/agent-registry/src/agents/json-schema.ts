import type { JsonSchemaDoc } from "@galaxy/contracts";
import { describeErrors, validatorFor } from "@galaxy/json-schema";

/**
 * What is wrong with a JSON Schema document, or null when it is a valid schema that compiles
 * (its `$ref`s resolve, its patterns are regular expressions). Saving an agent is rare: each
 * check takes a fresh Ajv instance of the schema's dialect.
 */
export function jsonSchemaProblem(schema: JsonSchemaDoc): string | null {
  const ajv = validatorFor(schema.$schema);
  if (typeof ajv === "string") return ajv;
  const valid = ajv.validateSchema(schema);
  // validateSchema answers a promise only for `$async` meta-schemas, which none of ours is.
  if (valid !== true) return describeErrors(ajv.errors, "is not a valid JSON Schema");
  try {
    ajv.compile(schema);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
