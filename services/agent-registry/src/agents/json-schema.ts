import { ValidationError, type JsonSchemaDoc } from "@galaxy/contracts";
import { describeErrors, fieldProblems, validatorFor, type ValidateFunction } from "@galaxy/json-schema";

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

/**
 * Checks `value` against an agent's `inputSchema` as the worker will when it starts an execution
 * with it (docs/api.md, "Triggers"): a 400 `input_invalid` naming each bad field under `root`.
 * A schema that no longer compiles refuses every input, as in the worker.
 */
export function checkAgainstInputSchema(schema: JsonSchemaDoc, value: unknown, root: string): void {
  const ajv = validatorFor(schema.$schema, { allErrors: true });
  let validate: ValidateFunction;
  try {
    if (typeof ajv === "string") throw new Error(ajv);
    validate = ajv.compile(schema);
  } catch (error) {
    throw new ValidationError("The agent's inputSchema cannot be used to check the input", { inputSchema: error instanceof Error ? error.message : String(error) }, "input_schema_unusable");
  }
  if (validate(value)) return;
  throw new ValidationError("The input does not match the agent's inputSchema", fieldProblems(validate.errors, root), "input_invalid");
}
