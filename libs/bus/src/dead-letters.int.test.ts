import { describe, expect, vi } from "vitest";
import { SignJWT, generateKeyPair } from "jose";
import { v7 as uuidv7 } from "uuid";
import { CLAIM_AUDIENCE, CLAIM_ISSUER, CLAIM_TYP, HEADER } from "@galaxy/contracts";
import { connectTestBus, TestClaims } from "@galaxy/testkit";
import { busTest } from "../test/fixtures";
import { agentCreated, decode } from "../test/support";
import type { StoredEvent } from "./types";

/** Messages that fail their checks become dead letters, and the consumer moves on (docs/bus.md, "Dead letters"). */

const test = busTest
  // Identity's keys only, no service claims: a forged message's report (forged-messages.int.test.ts)
  // would land in the consumer's own workspace and be applied like any event.
  .extend("claims", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const claims = await TestClaims.create();
    const identity = await connectTestBus(env, "identity", { loadJwks: async () => claims.jwks });
    onCleanup(() => identity.close());
    identity.serve("identity.jwks", async () => claims.jwks);
    await identity.flush();
    return claims;
  })
  .extend("publisher", { scope: "file" }, async ({ connect }) => connect("agent-registry"))
  .extend("worker", { scope: "file" }, async ({ connect }) => connect("execution-worker"))
  /**
   * Publishes `bad` then a good event to a fresh workspace's consumer; checks that the bad one
   * is dead-lettered (never reaching the handler) and that the good one is applied after it.
   */
  .extend("expectDeadLetteredThenMovesOn", async ({ claims, publisher, worker, inspector }) => {
    return async (durable: string, ws: string, bad: StoredEvent, error: RegExp): Promise<void> => {
      const applied: string[] = [];
      await worker.consume({ durable, filter: `evt.${ws}.>`, handler: async (m) => void applied.push(m.event.id) });
      await publisher.publishEvent(bad);
      const good = agentCreated(ws, await claims.sign({ ws }));
      await publisher.publishEvent(good);
      await vi.waitFor(() => expect(applied).toEqual([good.id]), { timeout: 5_000 });
      const dead = await inspector.deadLetters(durable);
      expect(dead).toHaveLength(1);
      const letter = dead[0];
      expect(letter?.subject).toBe(inspector.subject(`dlq.${durable}.evt.${ws}.${bad.type}`));
      expect(letter?.header.get(HEADER.dlqConsumer)).toBe(durable);
      expect(letter?.header.get(HEADER.dlqDeliveries)).toBe("1");
      expect(letter?.header.get(HEADER.dlqError)).toMatch(error);
      expect(letter?.header.get(HEADER.dlqSubject)).toBe(`evt.${ws}.${bad.type}`);
      expect(letter?.header.get(HEADER.claim)).toBe(bad.context.claim);
      expect(letter?.header.get(HEADER.msgId)).not.toBe(bad.id);
      expect(decode(letter?.data ?? new Uint8Array())).toEqual(bad.payload);
      await vi.waitFor(async () => expect(await inspector.consumerState(durable)).toEqual({ pending: 0, ackPending: 0 }));
    };
  });

describe("dead letters", () => {
  test("an event whose claim was signed by another key is dead-lettered", async ({ expectDeadLetteredThenMovesOn }) => {
    const ws = uuidv7();
    const forger = await TestClaims.create();
    await expectDeadLetteredThenMovesOn("forged-key", ws, agentCreated(ws, await forger.sign({ ws })), /claim refused/);
  });

  test("an event whose claim reuses identity's key id with another key is dead-lettered", async ({ claims, expectDeadLetteredThenMovesOn }) => {
    const ws = uuidv7();
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ ws, act: "user", role: "owner" })
      .setProtectedHeader({ alg: "EdDSA", kid: claims.kid, typ: CLAIM_TYP })
      .setIssuer(CLAIM_ISSUER)
      .setAudience(CLAIM_AUDIENCE)
      .setSubject(uuidv7())
      .setIssuedAt(now)
      .setExpirationTime(now + 900)
      .setJti(uuidv7())
      .sign(privateKey);
    await expectDeadLetteredThenMovesOn("forged-signature", ws, agentCreated(ws, forged), /signature/);
  });

  test("an event whose claim names another workspace is dead-lettered", async ({ claims, expectDeadLetteredThenMovesOn }) => {
    const ws = uuidv7();
    await expectDeadLetteredThenMovesOn("claim-elsewhere", ws, agentCreated(ws, await claims.sign({ ws: uuidv7() })), /different workspaces/);
  });

  test("an event whose payload names another workspace than its subject is dead-lettered", async ({ claims, expectDeadLetteredThenMovesOn }) => {
    const ws = uuidv7();
    const elsewhere = uuidv7();
    const bad = agentCreated(ws, await claims.sign({ ws }), { workspaceId: elsewhere });
    await expectDeadLetteredThenMovesOn("payload-elsewhere", ws, bad, /different workspaces/);
  });

  test("an event whose data fails its schema is dead-lettered", async ({ claims, expectDeadLetteredThenMovesOn }) => {
    const ws = uuidv7();
    const bad = agentCreated(ws, await claims.sign({ ws }), { data: { agent: { name: 42 } } });
    await expectDeadLetteredThenMovesOn("bad-payload", ws, bad, /bad agent\.created data/);
  });

  test("an event without a claim is dead-lettered", async ({ expectDeadLetteredThenMovesOn }) => {
    const ws = uuidv7();
    await expectDeadLetteredThenMovesOn("no-claim", ws, agentCreated(ws, ""), /claim refused/);
  });

  test("raw messages without headers, or on a subject that names no workspace, are dead-lettered", async ({ worker, inspector }) => {
    const ws = uuidv7();
    const applied: string[] = [];
    await worker.consume({ durable: "raw", filter: `evt.${ws}.>`, handler: async (m) => void applied.push(m.event.id) });
    const tag = `nows${Date.now()}`;
    await worker.consume({ durable: "raw-subject", filter: `evt.${tag}.>`, handler: async (m) => void applied.push(m.event.id) });
        await inspector.js.publish(inspector.subject(`evt.${ws}.agent.created`), "not json at all");
    await inspector.js.publish(inspector.subject(`evt.${tag}.agent.created`), JSON.stringify({ hello: "world" }));
    const [headerless] = await vi.waitFor(async () => {
      const found = await inspector.deadLetters("raw");
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(headerless?.header.get(HEADER.dlqError)).toBe("no valid Gx-Workspace-Id header");
    expect(new TextDecoder().decode(headerless?.data)).toBe("not json at all");
    const [badSubject] = await vi.waitFor(async () => {
      const found = await inspector.deadLetters("raw-subject");
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(badSubject?.header.get(HEADER.dlqError)).toBe(`evt.${tag}.agent.created is not an event subject`);
    expect(applied).toEqual([]);
  });

});
