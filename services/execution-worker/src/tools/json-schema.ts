import { CompiledSchemas, describeErrors, type ValidateFunction } from "@galaxy/json-schema";

/** Compiled validators by the schema's JSON text: agents' schemas repeat across executions. */
const compiled = new CompiledSchemas();

/**
 * Null when `value` satisfies `schema`, else what is wrong, one line per problem (`/path message`).
 * The schema is compiled with the dialect its `$schema` names (draft-07 without one), as the
 * registry checked it when the agent was saved.
 */
export function schemaViolation(schema: Record<string, unknown>, value: unknown): string | null {
  let validate: ValidateFunction;
  try {
    validate = compiled.get(JSON.stringify(schema), schema);
  } catch (error) {
    return `the schema does not compile: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (validate(value)) return null;
  return describeErrors(validate.errors, "does not match the schema", 10);
}
