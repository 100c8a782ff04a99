import { EventEnvelope } from "@galaxy/contracts";
import { registryTest } from "./registry-fixtures";

/** An event as it went over the wire: its subject (without prefix), headers and payload. */
export interface Published {
  subject: string;
  header: (name: string) => string | undefined;
  event: EventEnvelope;
}

/**
 * The registry's fixtures (registry-fixtures.ts: the registry running on the file's `db` and bus,
 * `gatewayBus` the gateway's bus, `claims` signing the callers' claims) and, set up once per file:
 * - `published`: every event on the bus from the first test that names it, as it went over the
 *   wire (JetStream messages reach core subscribers too: each event's headers as sent).
 */
export const publishedTest = registryTest.extend("published", { scope: "file" }, async ({ gatewayBus }, { onCleanup }): Promise<Published[]> => {
  const published: Published[] = [];
  const decoder = new TextDecoder();
  const subscription = gatewayBus.watch("evt.>", (msg) => {
    const event = EventEnvelope.parse(JSON.parse(decoder.decode(msg.data)));
    const headers = msg.headers;
    published.push({ subject: gatewayBus.unprefixed(msg.subject), header: (name) => headers?.get(name) || undefined, event });
  });
  onCleanup(() => subscription.unsubscribe());
  await gatewayBus.flush();
  return published;
});
