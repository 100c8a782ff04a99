import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { ValidationError } from "@galaxy/contracts";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import { linearPattern } from "./linear-patterns";

export type { ErrorObject, ValidateFunction };

const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/;
const DRAFT_2019 = /^https:\/\/json-schema\.org\/draft\/2019-09\/schema#?$/;
const DRAFT_2020 = /^https:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/;

/** The `$schema` dialects an agent's schemas may declare; without one, draft-07. */
export const SUPPORTED_DIALECTS = [
  "http://json-schema.org/draft-07/schema#",
  "https://json-schema.org/draft/2019-09/schema",
  "https://json-schema.org/draft/2020-12/schema",
] as const;

/** An Ajv instance of one of the supported dialects. */
export type SchemaValidator = Ajv | Ajv2019 | Ajv2020;

export interface ValidatorOptions {
  /** Report every problem, not only the first (default false). */
  allErrors?: boolean | undefined;
}

/**
 * A fresh Ajv instance for the dialect a schema's `$schema` names (draft-07 without one), or
 * what is wrong with the `$schema`. Fresh because an instance keeps what it compiled (schemas
 * by `$id`, regular expressions) for its lifetime: a shared one would grow with every agent and
 * refuse a second agent whose schema reuses an `$id`. Patterns are matched in linear time
 * (`linear-patterns.ts`).
 */
export function validatorFor(dialect: unknown, options: ValidatorOptions = {}): SchemaValidator | string {
  const settings = { strict: false, allErrors: options.allErrors ?? false, code: { regExp: linearPattern } };
  if (dialect === undefined || (typeof dialect === "string" && DRAFT_07.test(dialect))) return new Ajv(settings);
  if (typeof dialect === "string" && DRAFT_2019.test(dialect)) return new Ajv2019(settings);
  if (typeof dialect === "string" && DRAFT_2020.test(dialect)) return new Ajv2020(settings);
  return `$schema must be one of ${SUPPORTED_DIALECTS.join(", ")}`;
}

/** One line per problem (`/path message`), at most `max` of them. */
export function describeErrors(errors: ErrorObject[] | null | undefined, fallback: string, max = Number.POSITIVE_INFINITY): string {
  if (!errors || errors.length === 0) return fallback;
  return errors
    .slice(0, max)
    .map((e) => `${e.instancePath || "(root)"} ${e.message ?? "is invalid"}`)
    .join("; ");
}

/** The most fields a 400's `details` name: a large input bad everywhere is not answered at its own size. */
export const MAX_FIELD_PROBLEMS = 20;

/**
 * Each problem of a value against its schema, by the path of the field (`<root>.<path>`, a
 * missing property named too), the first problem of a field only, the first
 * {@link MAX_FIELD_PROBLEMS} fields: what a 400's `details` say.
 */
export function fieldProblems(errors: ErrorObject[] | null | undefined, root: string): Record<string, string> {
  const details: Record<string, string> = {};
  for (const e of errors ?? []) {
    if (Object.keys(details).length >= MAX_FIELD_PROBLEMS) break;
    const missing = e.keyword === "required" && typeof e.params.missingProperty === "string" ? `/${e.params.missingProperty}` : "";
    const path = `${root}${`${e.instancePath}${missing}`.replaceAll("/", ".")}`;
    details[path] ??= e.message ?? "is invalid";
  }
  return details;
}

/**
 * Compiled validators by a key the caller chooses (an agent version, the schema's text), each
 * compiled with an Ajv instance of its own dialect, at most `max` kept (then it starts over).
 */
export class CompiledSchemas {
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly options: ValidatorOptions & { max?: number } = {}) {}

  /** The validator of `schema`; throws when its `$schema` is not supported or it does not compile. */
  get(key: string, schema: Record<string, unknown>): ValidateFunction {
    const hit = this.compiled.get(key);
    if (hit) return hit;
    const ajv = validatorFor(schema.$schema, this.options);
    if (typeof ajv === "string") throw new Error(ajv);
    const validate = ajv.compile(schema);
    if (this.compiled.size >= (this.options.max ?? 500)) this.compiled.clear();
    this.compiled.set(key, validate);
    return validate;
  }
}

/** Agents' input schemas by agent version, which never changes once saved: compiled once per process. */
const agentInputSchemas = new CompiledSchemas({ allErrors: true });

/** An agent version's `inputSchema` (none: anything goes). */
export interface AgentInputSchema {
  agentId: string;
  version: number;
  schema: Record<string, unknown> | null | undefined;
}

/**
 * Checks what an execution would start from against its agent version's `inputSchema`. Throws a
 * 400 `input_invalid` naming each bad field under `root` (`input`, `trigger.input`, `body`), or
 * `input_schema_unusable` when the schema no longer compiles (an Ajv upgrade, a pattern saved
 * before patterns had to run in linear time): every input is refused then rather than let
 * through unchecked. `what` names the value in the message.
 */
export function checkAgentInput(agent: AgentInputSchema, value: unknown, root: string, what: "input" | "body"): void {
  if (!agent.schema) return;
  let validate: ValidateFunction;
  try {
    validate = agentInputSchemas.get(`${agent.agentId}:${agent.version}`, agent.schema);
  } catch (error) {
    throw new ValidationError(`The agent's inputSchema cannot be used to check the ${what}`, { inputSchema: error instanceof Error ? error.message : String(error) }, "input_schema_unusable");
  }
  if (validate(value)) return;
  throw new ValidationError(`The ${what} does not match the agent's inputSchema`, fieldProblems(validate.errors, root), "input_invalid");
}
