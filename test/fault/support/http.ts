import { z } from "zod";

/** One answer of the gateway; status 0 when none came (connection refused or reset, or timeout). */
export interface Answer {
  status: number;
  body: unknown;
  headers: Headers | null;
  /** Why no answer came, when status is 0. */
  failure?: string;
}

/** Longer than any bus request the gateway makes, so a 503 comes before our own give-up. */
const REQUEST_TIMEOUT_MS = 20_000;

export async function call(baseUrl: string, method: string, path: string, options: { token?: string; body?: string | object; headers?: Record<string, string> } = {}): Promise<Answer> {
  const body = options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // A body that is not JSON is kept as text: off the documented shape, and reported so.
    }
    return { status: response.status, body: parsed, headers: response.headers };
  } catch (error) {
    return { status: 0, body: null, headers: null, failure: error instanceof Error ? `${error.name}: ${error.cause instanceof Error ? error.cause.message : error.message}` : String(error) };
  }
}

/** `{data}` of an answer, parsed with `schema`; throws with the answer when it does not match. */
export function dataOf<S extends z.ZodType>(schema: S, answer: Answer): z.infer<S> {
  const envelope = z.object({ data: z.unknown() }).safeParse(answer.body);
  const parsed = schema.safeParse(envelope.success ? envelope.data.data : undefined);
  if (!parsed.success) throw new Error(`unexpected ${answer.status} answer: ${JSON.stringify(answer.body)}`);
  return parsed.data;
}

/** The `code` of an error answer, if it has one. */
export function codeOf(answer: Answer): string | undefined {
  const parsed = z.object({ code: z.string() }).safeParse(answer.body);
  return parsed.success ? parsed.data.code : undefined;
}
