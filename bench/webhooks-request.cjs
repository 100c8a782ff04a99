// autocannon's per-request hook for bench/webhooks.ts: CommonJS, because autocannon require()s
// it in its worker thread. Each request is a new delivery, signed the Standard Webhooks way
// with BENCH_WEBHOOK_SECRET, so every 202 is a real signature check and a real stored event.
const { createHmac, randomUUID } = require("node:crypto");

const secret = process.env.BENCH_WEBHOOK_SECRET || "";
const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");

module.exports = function setupRequest(request) {
  const id = `msg_${randomUUID()}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const body = JSON.stringify({ message: `bench ${id}` });
  const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  request.body = body;
  request.headers = { ...request.headers, "content-type": "application/json", "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${signature}` };
  return request;
};
