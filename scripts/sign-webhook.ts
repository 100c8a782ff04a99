import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { signWebhook } from "@galaxy/webhooks";

// Signs a webhook delivery for `POST /hooks/{triggerId}` the Standard Webhooks way and prints
// the headers, or a whole curl command with --url. See README, "Webhooks and schedules".
//
//   pnpm sign-webhook --secret whsec_… --body '{"message":"hello"}' [--id msg_1] [--url http://127.0.0.1:8080/hooks/<id>]
//   pnpm sign-webhook --secret whsec_… --file payload.json --url …

const USAGE = "usage: pnpm sign-webhook --secret whsec_… (--body '<json>' | --file <path>) [--id <webhook-id>] [--timestamp <unix s>] [--url <delivery url>]";

function main(): number {
  const { values } = parseArgs({
    options: {
      secret: { type: "string" },
      body: { type: "string" },
      file: { type: "string" },
      id: { type: "string" },
      timestamp: { type: "string" },
      url: { type: "string" },
    },
    strict: true,
  });
  const secret = values.secret ?? process.env.GALAXY_WEBHOOK_SECRET;
  if (!secret || !/^whsec_[A-Za-z0-9+/]+=*$/.test(secret)) {
    process.stderr.write(`${USAGE}\n--secret (or GALAXY_WEBHOOK_SECRET) must be the trigger's whsec_… secret\n`);
    return 2;
  }
  // `pnpm` runs this from the repository's root; a relative --file is the caller's (INIT_CWD).
  const file = values.file !== undefined ? resolve(process.env.INIT_CWD ?? process.cwd(), values.file) : undefined;
  const body = file !== undefined ? readFileSync(file, "utf8") : values.body;
  if (body === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  try {
    JSON.parse(body);
  } catch {
    process.stderr.write("the body is not valid JSON: Galaxy would answer 400\n");
    return 2;
  }
  const id = values.id ?? `msg_${randomUUID()}`;
  const timestamp = values.timestamp ?? String(Math.floor(Date.now() / 1000));
  if (!/^\d{1,12}$/.test(timestamp)) {
    process.stderr.write("--timestamp must be Unix seconds\n");
    return 2;
  }
  const signature = signWebhook(secret, id, timestamp, body);
  const headers = { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signature };
  if (!values.url) {
    for (const [name, value] of Object.entries(headers)) process.stdout.write(`${name}: ${value}\n`);
    return 0;
  }
  const quote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;
  // A file is sent from the file: a body of up to 1 MiB inline would pass what a shell takes in one argument.
  const data = file !== undefined ? quote(`@${file}`) : quote(body);
  const parts = ["curl", "-sS", "-X", "POST", quote(values.url), ...Object.entries(headers).flatMap(([name, value]) => ["-H", quote(`${name}: ${value}`)]), "--data-binary", data];
  process.stdout.write(`${parts.join(" ")}\n`);
  return 0;
}

process.exit(main());
