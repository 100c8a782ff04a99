import { Socket } from "node:net";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { v7 as uuidv7 } from "uuid";
import { expect, inject, test, vi } from "vitest";

/**
 * Galaxy's patch of nats.js (patches/, docs/decisions/0027) writes what the connection has to
 * send once per turn of the event loop: acks and publishes made one after the other, each after
 * an `await`, go out in one socket write. Unpatched, nats.js wrote once per microtask. And
 * `close()` writes what is pending before it closes the socket.
 */
/** What `nc` receives on `subject`, as text, once the server has the subscription. */
async function collect(nc: NatsConnection, subject: string): Promise<string[]> {
  const received: string[] = [];
  nc.subscribe(subject, {
    callback: (_error, message) => {
      received.push(message.string());
    },
  });
  await nc.flush();
  return received;
}

test("ten publishes made across microtasks of one turn leave in one socket write, and all arrive", async ({ onTestFinished }) => {
  const nc = await connect({ servers: inject("engines").natsUrl });
  onTestFinished(() => nc.close());
  const subject = `galaxy.test.turn.${uuidv7()}`;
  const received = await collect(nc, subject);

  const writes = vi.spyOn(Socket.prototype, "write");
  onTestFinished(() => writes.mockRestore());
  for (let n = 0; n < 10; n++) {
    nc.publish(subject, String(n));
    await Promise.resolve();
  }
  await new Promise((resolve) => setImmediate(resolve));
  const ours = writes.mock.calls.map(([chunk]) => Buffer.from(chunk instanceof Uint8Array ? chunk : String(chunk)).toString()).filter((text) => text.includes(subject));
  writes.mockRestore();

  expect(ours).toHaveLength(1);
  expect(ours[0]?.split(`PUB ${subject}`)).toHaveLength(11);
  await nc.flush();
  expect(received).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
});

test("a publish made just before close() still leaves: close writes what is pending first", async ({ onTestFinished }) => {
  const { natsUrl } = inject("engines");
  const reader = await connect({ servers: natsUrl });
  onTestFinished(() => reader.close());
  const subject = `galaxy.test.close.${uuidv7()}`;
  const received = await collect(reader, subject);

  const writer = await connect({ servers: natsUrl });
  writer.publish(subject, "last words");
  await writer.close();
  for (let waited = 0; received.length === 0 && waited < 2_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(received).toEqual(["last words"]);
});
