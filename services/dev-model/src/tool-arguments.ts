import { z } from "zod";

const ObjectSchema = z.object({
  properties: z.record(z.string(), z.unknown()).optional(),
  required: z.array(z.string()).optional(),
});

const ValueSchema = z.object({
  type: z.union([z.string(), z.array(z.string())]).optional(),
  enum: z.array(z.unknown()).min(1).optional(),
  const: z.unknown().optional(),
});

/**
 * Arguments the dev model passes when it calls a tool: every required property
 * of the tool's JSON Schema gets a fixed sample (a string gets `text`, the last
 * user message, so a test can predict it: `calculator` computes the message;
 * `"test"` when there is no message; `1`, `true`, `[]`, `null`, the first
 * `enum` value, the `const`, nested objects filled the same way); optional
 * properties are left out. A schema it cannot read gives `{}`.
 */
export function sampleArguments(schema: unknown, text = ""): Record<string, unknown> {
  const parsed = ObjectSchema.safeParse(schema);
  if (!parsed.success) return {};
  const { properties = {}, required = [] } = parsed.data;
  const args: Record<string, unknown> = {};
  for (const name of required) args[name] = sampleValue(properties[name], text.length > 0 ? text : "test");
  return args;
}

function sampleValue(schema: unknown, text: string): unknown {
  const parsed = ValueSchema.safeParse(schema);
  if (!parsed.success) return text;
  if (parsed.data.const !== undefined) return parsed.data.const;
  if (parsed.data.enum) return parsed.data.enum[0];
  const declared = parsed.data.type;
  const type = Array.isArray(declared) ? (declared.find((t) => t !== "null") ?? "null") : declared;
  switch (type) {
    case "number":
    case "integer":
      return 1;
    case "boolean":
      return true;
    case "array":
      return [];
    case "object":
      return sampleArguments(schema, text);
    case "null":
      return null;
    default:
      return text;
  }
}
