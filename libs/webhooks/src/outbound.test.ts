import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import {
  checkOutboundUrl,
  guardedFetch,
  outboundRefusalIn,
  OutboundFailedError,
  OutboundRefusedError,
  parseAllowlist,
  postSigned,
  type OutboundPolicy,
  type ResolvedAddress,
} from "./outbound";
import { isPrivateAddress } from "./addresses";
import { verifyWebhook } from "./standard-webhooks";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** A resolver answering from a table, so no test depends on real DNS. */
function fakeDns(table: Record<string, string[]>): (hostname: string) => Promise<ResolvedAddress[]> {
  return async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw new Error(`ENOTFOUND ${hostname}`);
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
}

async function refusal(promise: Promise<unknown>): Promise<OutboundRefusedError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OutboundRefusedError);
  return error as OutboundRefusedError;
}

describe("private addresses", () => {
  test.each([
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1",
    "ff02::1", "::ffff:127.0.0.1", "::ffff:8.8.8.8", "::ffff:7f00:1", "64:ff9b::a00:1", "2002:a00:1::1",
  ])("%s is private or reserved", (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  test.each(["8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1", "2606:4700:4700::1111", "2a00:1450:4001::200e"])("%s is public", (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });

  test("something that is not an address is never public", () => {
    expect(isPrivateAddress("localhost")).toBe(true);
  });
});

describe("parseAllowlist", () => {
  test("entries separated by commas or spaces, lowercased, with ports, wildcards and IPv6", () => {
    expect(parseAllowlist(" Hooks.Example.com, 127.0.0.1:9000  *.corp.example [::1]:8443 ::1").allowlist).toEqual([
      { host: "hooks.example.com", port: undefined, wildcard: false },
      { host: "127.0.0.1", port: 9000, wildcard: false },
      { host: "corp.example", port: undefined, wildcard: true },
      { host: "::1", port: 8443, wildcard: false },
      { host: "::1", port: undefined, wildcard: false },
    ]);
  });

  test("unset and empty are the same: public hosts only", () => {
    expect(parseAllowlist(undefined).allowlist).toEqual([]);
    expect(parseAllowlist(" , ").allowlist).toEqual([]);
  });
});

describe("checkOutboundUrl", () => {
  const dns = fakeDns({
    "hooks.example.com": ["93.184.216.34"],
    "internal.example.com": ["10.0.0.7"],
    "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
    "a.corp.example": ["10.0.0.8"],
  });
  const open: OutboundPolicy = { allowlist: [], resolve: dns };

  test("with an empty list, a public host passes and is pinned to the address that was checked", async () => {
    await expect(checkOutboundUrl("https://hooks.example.com/x", open)).resolves.toMatchObject({
      hostname: "hooks.example.com",
      address: "93.184.216.34",
      family: 4,
      listed: false,
    });
  });

  test("with an empty list, a host resolving to a private address is refused", async () => {
    expect((await refusal(checkOutboundUrl("http://internal.example.com/", open))).reason).toBe("private_address");
  });

  test("one private address among public ones is enough to refuse", async () => {
    expect((await refusal(checkOutboundUrl("http://mixed.example.com/", open))).reason).toBe("private_address");
  });

  test("literal loopback, metadata and IPv4-mapped addresses are refused", async () => {
    for (const url of ["http://127.0.0.1:8080/", "http://169.254.169.254/latest", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"]) {
      expect((await refusal(checkOutboundUrl(url, open))).reason).toBe("private_address");
    }
  });

  test("a host the list names exactly may be private", async () => {
    const policy: OutboundPolicy = { ...parseAllowlist("127.0.0.1,internal.example.com"), resolve: dns };
    await expect(checkOutboundUrl("http://127.0.0.1:8080/", policy)).resolves.toMatchObject({ address: "127.0.0.1", listed: true });
    await expect(checkOutboundUrl("http://internal.example.com/", policy)).resolves.toMatchObject({ address: "10.0.0.7", listed: true });
  });

  test("a wildcard entry lets public hosts through but never opens a private address", async () => {
    const wildcardDns = fakeDns({ "a.corp.example": ["10.0.0.8"], "b.corp.example": ["93.184.216.34"], "rebound.corp.example": ["127.0.0.1"] });
    const policy: OutboundPolicy = { ...parseAllowlist("*.corp.example"), resolve: wildcardDns };
    await expect(checkOutboundUrl("http://b.corp.example/", policy)).resolves.toMatchObject({ address: "93.184.216.34", listed: true });
    expect((await refusal(checkOutboundUrl("http://a.corp.example/", policy))).reason).toBe("private_address");
    expect((await refusal(checkOutboundUrl("http://rebound.corp.example/", policy))).reason).toBe("private_address");
    // Naming the private address itself opens it, whatever name leads there.
    const withIp: OutboundPolicy = { ...parseAllowlist("*.corp.example 10.0.0.8"), resolve: wildcardDns };
    await expect(checkOutboundUrl("http://a.corp.example/", withIp)).resolves.toMatchObject({ address: "10.0.0.8" });
  });

  test("link-local (cloud metadata) is refused even for an exactly listed name; only the exact IP opens it", async () => {
    const metaDns = fakeDns({ "meta.example.com": ["169.254.169.254"], "meta6.example.com": ["fe80::1"], "mapped.example.com": ["::ffff:169.254.169.254"] });
    const named: OutboundPolicy = { ...parseAllowlist("meta.example.com meta6.example.com mapped.example.com *.example.com"), resolve: metaDns };
    for (const url of ["http://meta.example.com/latest/meta-data/", "http://meta6.example.com/", "http://mapped.example.com/"]) {
      const error = await refusal(checkOutboundUrl(url, named));
      expect(error.reason).toBe("private_address");
      expect(error.message).toContain("link-local");
    }
    const ip: OutboundPolicy = { ...parseAllowlist("169.254.169.254"), resolve: metaDns };
    await expect(checkOutboundUrl("http://169.254.169.254/latest", ip)).resolves.toMatchObject({ address: "169.254.169.254" });
  });

  test("a DNS look-up that never answers is refused as unresolvable after resolveTimeoutMs", async () => {
    const policy: OutboundPolicy = { allowlist: [], resolve: () => new Promise<ResolvedAddress[]>(() => {}), resolveTimeoutMs: 50 };
    const error = await refusal(checkOutboundUrl("https://slow.example.com/", policy));
    expect(error.reason).toBe("unresolvable");
  });

  test("with a non-empty list, a host not on it is refused, public or not", async () => {
    const policy: OutboundPolicy = { ...parseAllowlist("127.0.0.1"), resolve: dns };
    expect((await refusal(checkOutboundUrl("https://hooks.example.com/", policy))).reason).toBe("host_not_allowed");
    expect((await refusal(checkOutboundUrl("http://127.0.0.2/", policy))).reason).toBe("host_not_allowed");
    // A wildcard names subdomains, not the bare domain.
    const wildcard: OutboundPolicy = { ...parseAllowlist("*.corp.example"), resolve: dns };
    expect((await refusal(checkOutboundUrl("http://corp.example/", wildcard))).reason).toBe("host_not_allowed");
  });

  test("an entry with a port names that port only", async () => {
    const policy: OutboundPolicy = { ...parseAllowlist("127.0.0.1:9000"), resolve: dns };
    await expect(checkOutboundUrl("http://127.0.0.1:9000/", policy)).resolves.toMatchObject({ listed: true });
    expect((await refusal(checkOutboundUrl("http://127.0.0.1:9001/", policy))).reason).toBe("host_not_allowed");
  });

  test("bad URLs, other schemes and unresolvable hosts are refused with their reason", async () => {
    expect((await refusal(checkOutboundUrl("not a url", open))).reason).toBe("invalid_url");
    expect((await refusal(checkOutboundUrl("file:///etc/passwd", open))).reason).toBe("scheme_not_allowed");
    expect((await refusal(checkOutboundUrl("ftp://hooks.example.com/", open))).reason).toBe("scheme_not_allowed");
    expect((await refusal(checkOutboundUrl("http://nowhere.example.com/", open))).reason).toBe("unresolvable");
  });

  test("the refusal carries the stable code outbound_refused", async () => {
    expect((await refusal(checkOutboundUrl("http://127.0.0.1/", open))).code).toBe("outbound_refused");
  });
});

describe("postSigned", () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  interface Received {
    headers: IncomingMessage["headers"];
    body: string;
  }

  async function listen(handler: (req: IncomingMessage, received: Received) => { status: number; body: string; headers?: Record<string, string> } | "hang"): Promise<{ port: number; received: Received[] }> {
    const received: Received[] = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const entry = { headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
        received.push(entry);
        const answer = handler(req, entry);
        if (answer === "hang") return;
        res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    return { port: (server?.address() as AddressInfo).port, received };
  }

  test("sends a body the receiver can verify with the shared secret, and returns its answer", async () => {
    const { port, received } = await listen(() => ({ status: 200, body: '{"ok":true}' }));
    const answer = await postSigned({
      url: `http://127.0.0.1:${port}/hook`,
      secret: SECRET,
      webhookId: "call_1",
      body: { a: 1 },
      timeoutMs: 5_000,
      policy: parseAllowlist("127.0.0.1"),
    });
    expect(answer).toEqual({ status: 200, body: '{"ok":true}', truncated: false });
    const [call] = received;
    expect(call?.body).toBe('{"a":1}');
    expect(call?.headers["content-type"]).toBe("application/json");
    const verdict = verifyWebhook(
      [SECRET],
      { id: String(call?.headers["webhook-id"]), timestamp: String(call?.headers["webhook-timestamp"]), signature: String(call?.headers["webhook-signature"]) },
      Buffer.from(call?.body ?? ""),
      Math.floor(Date.now() / 1000),
    );
    expect(verdict).toMatchObject({ ok: true, id: "call_1" });
  });

  test("a hostname connects to the address that was checked, whatever the system resolver would say", async () => {
    const { port, received } = await listen(() => ({ status: 204, body: "" }));
    const policy: OutboundPolicy = { ...parseAllowlist("hooks.galaxy.test"), resolve: fakeDns({ "hooks.galaxy.test": ["127.0.0.1"] }) };
    const answer = await postSigned({ url: `http://hooks.galaxy.test:${port}/`, secret: SECRET, webhookId: "call_2", body: "{}", timeoutMs: 5_000, policy });
    expect(answer.status).toBe(204);
    expect(received[0]?.headers.host).toBe(`hooks.galaxy.test:${port}`);
  });

  test("without the allowlist naming it, loopback is refused and nothing is sent", async () => {
    const { port, received } = await listen(() => ({ status: 200, body: "{}" }));
    const error = await refusal(postSigned({ url: `http://127.0.0.1:${port}/`, secret: SECRET, webhookId: "call_3", body: {}, timeoutMs: 5_000, policy: parseAllowlist("") }));
    expect(error.reason).toBe("private_address");
    expect(received).toHaveLength(0);
  });

  test("a redirect is returned, not followed", async () => {
    const { port, received } = await listen(() => ({ status: 302, body: "", headers: { location: "http://169.254.169.254/" } }));
    const answer = await postSigned({ url: `http://127.0.0.1:${port}/`, secret: SECRET, webhookId: "call_4", body: {}, timeoutMs: 5_000, policy: parseAllowlist("127.0.0.1") });
    expect(answer.status).toBe(302);
    expect(received).toHaveLength(1);
  });

  test("a long answer is cut at the limit and says so", async () => {
    const { port } = await listen(() => ({ status: 200, body: "x".repeat(10_000) }));
    const answer = await postSigned({ url: `http://127.0.0.1:${port}/`, secret: SECRET, webhookId: "call_5", body: {}, timeoutMs: 5_000, policy: parseAllowlist("127.0.0.1"), maxResponseBytes: 100 });
    expect(answer.body).toBe("x".repeat(100));
    expect(answer.truncated).toBe(true);
  });

  test("a receiver that never answers times out with outbound_timeout", async () => {
    const { port } = await listen(() => "hang");
    const error = await postSigned({ url: `http://127.0.0.1:${port}/`, secret: SECRET, webhookId: "call_6", body: {}, timeoutMs: 200, policy: parseAllowlist("127.0.0.1") }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OutboundFailedError);
    expect((error as OutboundFailedError).code).toBe("outbound_timeout");
  });

  test("the caller's signal aborts the call with outbound_aborted", async () => {
    const { port } = await listen(() => "hang");
    const controller = new AbortController();
    const pending = postSigned({ url: `http://127.0.0.1:${port}/`, secret: SECRET, webhookId: "call_7", body: {}, timeoutMs: 10_000, policy: parseAllowlist("127.0.0.1"), signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const error = await pending.catch((caught: unknown) => caught);
    expect((error as OutboundFailedError).code).toBe("outbound_aborted");
  });

  test("the timeout covers the DNS look-up", async () => {
    const policy: OutboundPolicy = { allowlist: [], resolve: () => new Promise<ResolvedAddress[]>(() => {}), resolveTimeoutMs: 60_000 };
    const error = await postSigned({ url: "https://slow.example.com/", secret: SECRET, webhookId: "call_9", body: {}, timeoutMs: 100, policy }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OutboundFailedError);
    expect((error as OutboundFailedError).code).toBe("outbound_timeout");
  });

  test("a closed port fails with outbound_failed", async () => {
    const { port } = await listen(() => ({ status: 200, body: "" }));
    server?.close();
    server = undefined;
    const error = await postSigned({ url: `http://127.0.0.1:${port}/`, secret: SECRET, webhookId: "call_8", body: {}, timeoutMs: 5_000, policy: parseAllowlist("127.0.0.1") }).catch((caught: unknown) => caught);
    expect((error as OutboundFailedError).code).toBe("outbound_failed");
  });
});

describe("guardedFetch", () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function listen(): Promise<{ port: number; received: Array<{ method: string; url: string; host: string; body: string }> }> {
    const received: Array<{ method: string; url: string; host: string; body: string }> = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        received.push({ method: req.method ?? "", url: req.url ?? "", host: req.headers.host ?? "", body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(200, { "content-type": "text/event-stream", "x-many": ["a", "b"] });
        res.write("data: one\n\n");
        setTimeout(() => res.end("data: two\n\n"), 10);
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    return { port: (server?.address() as AddressInfo).port, received };
  }

  test("refuses a private destination before sending anything", async () => {
    const { port, received } = await listen();
    const fetch = guardedFetch(parseAllowlist(""));
    const error = await refusal(fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: "POST", body: "{}" }));
    expect(error.reason).toBe("private_address");
    const metadata = await refusal(fetch("http://169.254.169.254/latest/meta-data/"));
    expect(metadata.reason).toBe("private_address");
    expect(received).toHaveLength(0);
  });

  test("refuses a host the allowlist does not name", async () => {
    const fetch = guardedFetch({ ...parseAllowlist("api.openai.com"), resolve: fakeDns({ "evil.example.com": ["93.184.216.34"] }) });
    expect((await refusal(fetch("https://evil.example.com/v1/embeddings"))).reason).toBe("host_not_allowed");
  });

  test("sends an allowed request to the checked address and streams the answer back", async () => {
    const { port, received } = await listen();
    const policy: OutboundPolicy = { ...parseAllowlist("proxy.galaxy.test"), resolve: fakeDns({ "proxy.galaxy.test": ["127.0.0.1"] }) };
    const response = await guardedFetch(policy)(new URL(`http://proxy.galaxy.test:${port}/v1/x?y=1`), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hello: "world" }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("x-many")).toBe("a, b");
    expect(await response.text()).toBe("data: one\n\ndata: two\n\n");
    expect(received).toEqual([{ method: "POST", url: "/v1/x?y=1", host: `proxy.galaxy.test:${port}`, body: '{"hello":"world"}' }]);
  });
});

describe("outboundRefusalIn", () => {
  test("finds the refusal an SDK wrapped as a connection error's cause, and nothing else", () => {
    const refusal = new OutboundRefusedError("private_address", "10.0.0.1 is private");
    const wrapped = new Error("Connection error.", { cause: new Error("fetch failed", { cause: refusal }) });
    expect(outboundRefusalIn(wrapped)).toBe(refusal);
    expect(outboundRefusalIn(refusal)).toBe(refusal);
    expect(outboundRefusalIn(new Error("Connection error.", { cause: new Error("ECONNREFUSED") }))).toBeNull();
    expect(outboundRefusalIn("not an error")).toBeNull();
  });
});
