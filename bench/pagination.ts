import { performance } from "node:perf_hooks";
import { z } from "zod";
import { createDb, sql } from "@galaxy/db";
import { Pagination } from "@galaxy/contracts";
import { startGalaxy } from "../test/e2e/harness";
import { GalaxyClient } from "./galaxy-client";
import { createBenchWorld } from "./setup";
import { ms } from "./stats";

/**
 * Paging through 100,000 executions of one workspace, 100 at a time, by cursor and by offset,
 * through the gateway (`GET /api/executions`): the time of each page, first to last
 * (docs/benchmarks.md, Pagination). Run with `node --import tsx bench/pagination.ts`.
 */
const EXECUTIONS = Number(process.env.PAGINATION_EXECUTIONS ?? 100_000);
const PAGE = 100;
const Page = z.object({ data: z.array(z.object({ id: z.string() })), pagination: Pagination });
const log = (line: string) => console.log(line);

async function timedPage(url: string, authorization: string): Promise<{ ms: number; page: z.infer<typeof Page> }> {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization } });
  const body: unknown = await response.json();
  const elapsed = performance.now() - started;
  if (response.status !== 200) throw new Error(`${url}: ${response.status} ${JSON.stringify(body)}`);
  return { ms: elapsed, page: Page.parse(body) };
}

/** Median of each tenth of the pages, in order: flat means the last pages cost what the first do. */
function deciles(times: number[]): string[] {
  const out: string[] = [];
  for (let d = 0; d < 10; d++) {
    const slice = times.slice(Math.floor((d * times.length) / 10), Math.floor(((d + 1) * times.length) / 10)).sort((a, b) => a - b);
    out.push(ms(slice[Math.floor(slice.length / 2)] ?? 0));
  }
  return out;
}

const world = await createBenchWorld(log);
const galaxy = await startGalaxy({ databaseUrl: world.databaseUrl, natsUrl: world.natsUrl, redisUrl: world.redisUrl, template: world.database });
try {
  const client = await GalaxyClient.signUp(galaxy.url);
  const agentId = await client.createActiveAgent();
  const db = createDb<unknown>({ connectionString: galaxy.env.databaseUrl, max: 1, applicationName: "galaxy-bench-pagination" });
  try {
    log(`inserting ${EXECUTIONS} completed executions`);
    // One second apart, newest last, as a long-lived workspace would have them; ids are random (webhook executions' are UUIDv5).
    await sql`
      insert into execution.executions (id, workspace_id, agent_id, agent_version, status, trigger, input, output, created_by, correlation_id, traceparent, created_at, completed_at)
      select gen_random_uuid(), ${client.workspaceId}::uuid, ${agentId}::uuid, 1, 'completed', '{"type":"manual"}'::jsonb, '{"message":"hi"}'::jsonb,
             '{"text":"echo: hi"}'::jsonb, 'bench', 'bench', '00-00000000000000000000000000000001-0000000000000001-01',
             now() - make_interval(secs => ${EXECUTIONS} - n), now() - make_interval(secs => ${EXECUTIONS} - n)
        from generate_series(1, ${EXECUTIONS}) as n`.execute(db);
    await sql`analyze execution.executions`.execute(db);
  } finally {
    await db.destroy();
  }

  const byCursor: number[] = [];
  let cursor = "";
  let seen = 0;
  for (let pages = 0; pages < EXECUTIONS / PAGE + 1; pages++) {
    const { ms: took, page } = await timedPage(`${galaxy.url}/api/executions?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`, client.authorization);
    byCursor.push(took);
    seen += page.data.length;
    if (!page.pagination.nextCursor) break;
    cursor = page.pagination.nextCursor;
  }
  log(`by cursor: ${byCursor.length} pages, ${seen} executions`);

  const byOffset: number[] = [];
  for (let offset = 0; offset < EXECUTIONS; offset += PAGE) {
    byOffset.push((await timedPage(`${galaxy.url}/api/executions?limit=${PAGE}&offset=${offset}`, client.authorization)).ms);
  }
  log(`by offset: ${byOffset.length} pages`);

  log("\nmedian page time by tenth of the walk (first tenth … last tenth):");
  log(`| form | ${Array.from({ length: 10 }, (_, i) => `${i + 1}`).join(" | ")} | first page | last page |`);
  log(`| --- |${" --- |".repeat(12)}`);
  log(`| cursor | ${deciles(byCursor).join(" | ")} | ${ms(byCursor[0] ?? 0)} | ${ms(byCursor.at(-1) ?? 0)} |`);
  log(`| offset | ${deciles(byOffset).join(" | ")} | ${ms(byOffset[0] ?? 0)} | ${ms(byOffset.at(-1) ?? 0)} |`);
  log(`\ntotal: cursor ${ms(byCursor.reduce((a, b) => a + b, 0))}, offset ${ms(byOffset.reduce((a, b) => a + b, 0))}`);
} finally {
  await galaxy.stop();
  await world.teardown();
  process.exit(0);
}
