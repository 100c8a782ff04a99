import type { z } from "zod";
import { InvalidRequestError } from "./errors";

/**
 * Parses a request body, turning the first zod issue into the 400 a provider
 * would send: the message names the field, `param` is its dotted path.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : null;
  const missing = issue?.code === "invalid_type" && issue.input === undefined;
  const message = missing
    ? `Missing required parameter: '${param ?? "body"}'.`
    : `Invalid value for '${param ?? "body"}': ${issue?.message ?? "invalid request body"}.`;
  throw new InvalidRequestError(message, {
    param,
    code: missing ? "missing_required_parameter" : "invalid_value",
    cause: result.error,
  });
}
