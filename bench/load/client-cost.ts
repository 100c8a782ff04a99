import { spawn } from "node:child_process";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { HttpPoster } from "./http-post";

/**
 * What a POST costs the process that sends it, `fetch` against the senders' `HttpPoster`
 * (docs/benchmarks.md, "The senders' own cost"): each client posts 4,000 deliveries to a
 * server of another process that answers 202 at once, one at a time and then 64 at a time, and
 * prints its own CPU per request. `node --import tsx bench/load/client-cost.ts`
 */
const REQUESTS = 4_000;
const WARMUP = 300;
const BODY = JSON.stringify({ message: "client cost" });
const HEADERS = { "content-type": "application/json", "webhook-id": "msg_client_cost", "webhook-timestamp": "0", "webhook-signature": "v1,none" };

type Post = (url: string) => Promise<number>;

async function viaFetch(url: string): Promise<number> {
  const response = await fetch(url, { method: "POST", headers: HEADERS, body: BODY, signal: AbortSignal.timeout(30_000) });
  await response.text();
  return response.status;
}

async function measure(post: Post, url: string, concurrency: number): Promise<{ cpuUs: number; wallUs: number }> {
  for (let i = 0; i < WARMUP; i++) await post(url);
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next++ < REQUESTS) await post(url); }));
  const cpu = process.cpuUsage(cpuBefore);
  return { cpuUs: (cpu.user + cpu.system) / REQUESTS, wallUs: ((performance.now() - t0) * 1000) / REQUESTS };
}

/** The server, in a process of its own so that its CPU is not the client's: prints its port. */
const SERVER = `
  const server = require("node:http").createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(202, { "content-type": "application/json" }).end('{"data":{"executionId":"00000000-0000-7000-8000-000000000000"}}'));
  });
  server.listen(0, "127.0.0.1", () => console.log(server.address().port));`;

const server = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
process.on("exit", () => server.kill());
try {
  const [port] = (await Promise.race([once(server.stdout, "data"), once(server, "exit").then(() => Promise.reject(new Error("the server exited before it listened")))])) as [Buffer];
  const url = `http://127.0.0.1:${port.toString().trim()}/hooks/cost`;
  for (const concurrency of [1, 64]) {
    const poster = new HttpPoster(concurrency);
    const clients: Array<[string, Post]> = [["fetch", viaFetch], ["HttpPoster", async (to) => (await poster.post(to, HEADERS, BODY, 30_000)).status]];
    try {
      for (const [name, post] of clients) {
        const { cpuUs, wallUs } = await measure(post, url, concurrency);
        console.log(`${name.padEnd(10)} ${String(concurrency).padStart(2)} at a time: ${cpuUs.toFixed(0)} µs of the client's CPU per request, ${wallUs.toFixed(0)} µs of wall time`);
      }
    } finally {
      poster.close();
    }
  }
} finally {
  server.kill();
}
