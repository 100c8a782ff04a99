import { schemaProperties } from "../../ui/SchemaForm";

/** A body the agent's `inputSchema` accepts, for the example (no quote in it, for the shell). */
export function exampleBody(inputSchema: Record<string, unknown> | null, text = "hello from a webhook"): string {
  const properties = schemaProperties(inputSchema);
  if (!properties) return JSON.stringify({ message: text });
  const body: Record<string, unknown> = {};
  for (const [name, property] of properties) {
    const type = Array.isArray(property.type) ? property.type[0] : property.type;
    const first = Array.isArray(property.enum) ? property.enum[0] : undefined;
    body[name] = first !== undefined ? first : type === "number" || type === "integer" ? 1 : type === "boolean" ? true : type === "string" ? text : null;
  }
  return JSON.stringify(body).replaceAll("'", "");
}

/** A copyable shell example that signs one delivery the Standard Webhooks way (docs/webhooks.md). */
export function signedCurl(url: string, secret: string, body: string): string {
  return [
    `SECRET='${secret}'`,
    `BODY='${body}'`,
    `ID="msg_$(date +%s%N)"; TS="$(date +%s)"`,
    `KEY="$(printf '%s' "\${SECRET#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \\n')"`,
    `SIG="$(printf '%s' "$ID.$TS.$BODY" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY" -binary | base64)"`,
    `curl -sS -X POST '${url}' -H 'content-type: application/json' \\`,
    `  -H "webhook-id: $ID" -H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG" \\`,
    `  --data-binary "$BODY"`,
  ].join("\n");
}

export function hookUrl(path: string | null): string {
  if (!path) return "";
  return path.startsWith("http") ? path : `${window.location.origin}${path}`;
}
