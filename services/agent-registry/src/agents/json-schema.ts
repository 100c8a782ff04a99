import { Ajv, type ErrorObject } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { JsonSchemaDoc } from "@galaxy/contracts";

const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/;
const DRAFT_2019 = /^https:\/\/json-schema\.org\/draft\/2019-09\/schema#?$/;
const DRAFT_2020 = /^https:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/;

/** The `$schema` dialects an agent's schemas may declare; without one, draft-07. */
export const SUPPORTED_DIALECTS = [
  "http://json-schema.org/draft-07/schema#",
  "https://json-schema.org/draft/2019-09/schema",
  "https://json-schema.org/draft/2020-12/schema",
] as const;

type Validator = Ajv | Ajv2019 | Ajv2020;

// A fresh instance for every check: an instance keeps what it compiled (schemas by `$id`,
// regular expressions in its code scope) for its lifetime, so a shared one would grow with
// every agent saved and refuse a second agent whose schema reuses an `$id`. Saving an agent
// is rare; a few milliseconds for a clean instance is the cheaper price.
function validatorFor(dialect: unknown): Validator | string {
  if (dialect === undefined || (typeof dialect === "string" && DRAFT_07.test(dialect))) return new Ajv({ strict: false });
  if (typeof dialect === "string" && DRAFT_2019.test(dialect)) return new Ajv2019({ strict: false });
  if (typeof dialect === "string" && DRAFT_2020.test(dialect)) return new Ajv2020({ strict: false });
  return `$schema must be one of ${SUPPORTED_DIALECTS.join(", ")}`;
}

/**
 * What is wrong with a JSON Schema document, or null when it is a valid schema that compiles
 * (its `$ref`s resolve, its patterns are regular expressions).
 */
export function jsonSchemaProblem(schema: JsonSchemaDoc): string | null {
  const ajv = validatorFor(schema.$schema);
  if (typeof ajv === "string") return ajv;
  const valid = ajv.validateSchema(schema);
  // validateSchema answers a promise only for `$async` meta-schemas, which none of ours is.
  if (valid !== true) return describe(ajv.errors);
  try {
    ajv.compile(schema);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function describe(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return "is not a valid JSON Schema";
  return errors.map((e) => `${e.instancePath || "(root)"} ${e.message ?? "is invalid"}`).join("; ");
}
