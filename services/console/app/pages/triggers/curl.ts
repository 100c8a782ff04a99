/** A copyable shell example that signs one delivery the Standard Webhooks way (docs/webhooks.md). */
export function signedCurl(url: string, secret: string): string {
  return [
    `SECRET='${secret}'`,
    `BODY='{"message":"hello from a webhook"}'`,
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
