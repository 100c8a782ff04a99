import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";

/**
 * A stand-in for Pinecone that speaks the part of its HTTP API `@pinecone-database/pinecone`
 * 8.2 uses for Galaxy (read from the client's generated code, `db_data` and `db_control`):
 * the control plane's `GET /indexes/{name}` (the index's host), and the data plane's
 * `POST /vectors/upsert` `{vectors: [{id, values, metadata}], namespace}` → `{upsertedCount}`
 * and `POST /query` `{namespace, topK, vector, filter, includeMetadata, includeValues}` →
 * `{matches: [{id, score, values, metadata}], namespace, usage}` (as docs.pinecone.io's API
 * reference shows them). Every call must carry the `Api-Key` and `X-Pinecone-Api-Version` headers. Scores are cosine similarities, as in a cosine index. Filters: equality,
 * `$eq` and `$in` on metadata fields, which is what Galaxy sends.
 */
export interface FakePinecone {
  /** Data plane and control plane on one server: both `controllerHostUrl` and the index host. */
  url: string;
  apiKey: string;
  indexName: string;
  /** Records by namespace, then id. */
  namespaces: Map<string, Map<string, StoredRecord>>;
  /** Every request received: method, path and parsed body. */
  requests: Array<{ method: string; path: string; body: unknown; apiKey: string | undefined }>;
  /** Makes the next `n` data-plane calls fail with a 503. */
  failNext(n: number): void;
  close(): Promise<void>;
}

interface StoredRecord {
  id: string;
  values: number[];
  metadata: Record<string, unknown> | undefined;
}

const Metadata = z.record(z.string(), z.unknown());
const UpsertBody = z.object({
  vectors: z.array(z.object({ id: z.string().min(1), values: z.array(z.number()).min(1), metadata: Metadata.optional() })).min(1).max(1000),
  namespace: z.string().optional(),
});
const QueryBody = z.object({
  namespace: z.string().optional(),
  topK: z.number().int().min(1).max(10_000),
  vector: z.array(z.number()).min(1),
  filter: Metadata.optional(),
  includeMetadata: z.boolean().optional(),
  includeValues: z.boolean().optional(),
});

export async function startFakePinecone(options: { apiKey?: string; indexName?: string; dimension?: number } = {}): Promise<FakePinecone> {
  const apiKey = options.apiKey ?? "pc-fake-key-0001";
  const indexName = options.indexName ?? "galaxy";
  const namespaces = new Map<string, Map<string, StoredRecord>>();
  const requests: FakePinecone["requests"] = [];
  let failures = 0;
  let url = "";

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => send(res, 500, { error: { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) } }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const raw = await readBody(req);
    const body: unknown = raw ? JSON.parse(raw) : undefined;
    const key = req.headers["api-key"];
    const presented = typeof key === "string" ? key : undefined;
    requests.push({ method: req.method ?? "", path, body, apiKey: presented });
    if (presented !== apiKey) return send(res, 401, { error: { code: "UNAUTHENTICATED", message: "Invalid API Key" }, status: 401 });
    // Every call names the API version it speaks (`X-Pinecone-Api-Version`), as Pinecone requires.
    if (typeof req.headers["x-pinecone-api-version"] !== "string") return send(res, 400, { error: { code: "INVALID_ARGUMENT", message: "X-Pinecone-Api-Version is required" }, status: 400 });

    if (req.method === "GET" && path === `/indexes/${indexName}`) {
      return send(res, 200, {
        name: indexName,
        dimension: options.dimension ?? 512,
        metric: "cosine",
        host: url,
        vector_type: "dense",
        deletion_protection: "disabled",
        spec: { serverless: { cloud: "aws", region: "us-east-1" } },
        status: { ready: true, state: "Ready" },
      });
    }
    if (req.method === "GET" && path.startsWith("/indexes/")) return send(res, 404, { error: { code: "NOT_FOUND", message: "Resource not found" }, status: 404 });

    if (failures > 0) {
      failures -= 1;
      return send(res, 503, { error: { code: "UNAVAILABLE", message: "try again" }, status: 503 });
    }

    if (req.method === "POST" && path === "/vectors/upsert") {
      const parsed = UpsertBody.safeParse(body);
      if (!parsed.success) return send(res, 400, { error: { code: "INVALID_ARGUMENT", message: z.prettifyError(parsed.error) }, status: 400 });
      const namespace = namespaceOf(parsed.data.namespace);
      for (const vector of parsed.data.vectors) namespace.set(vector.id, { id: vector.id, values: vector.values, metadata: vector.metadata });
      return send(res, 200, { upsertedCount: parsed.data.vectors.length });
    }

    if (req.method === "POST" && path === "/query") {
      const parsed = QueryBody.safeParse(body);
      if (!parsed.success) return send(res, 400, { error: { code: "INVALID_ARGUMENT", message: z.prettifyError(parsed.error) }, status: 400 });
      const query = parsed.data;
      const records = [...(namespaces.get(query.namespace ?? "")?.values() ?? [])];
      const matches = records
        .filter((record) => record.values.length === query.vector.length && matchesFilter(record.metadata, query.filter))
        .map((record) => ({
          id: record.id,
          score: cosine(record.values, query.vector),
          ...(query.includeValues ? { values: record.values } : { values: [] }),
          ...(query.includeMetadata && record.metadata ? { metadata: record.metadata } : {}),
        }))
        .sort((a, b) => b.score - a.score)
        .slice(0, query.topK);
      return send(res, 200, { results: [], matches, namespace: query.namespace ?? "", usage: { readUnits: 1 } });
    }

    send(res, 404, { error: { code: "NOT_FOUND", message: `${req.method} ${path}` }, status: 404 });
  }

  function namespaceOf(name: string | undefined): Map<string, StoredRecord> {
    const key = name ?? "";
    let namespace = namespaces.get(key);
    if (!namespace) {
      namespace = new Map();
      namespaces.set(key, namespace);
    }
    return namespace;
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    apiKey,
    indexName,
    namespaces,
    requests,
    failNext(n) {
      failures = n;
    },
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

function matchesFilter(metadata: Record<string, unknown> | undefined, filter: Record<string, unknown> | undefined): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([field, condition]) => {
    const value = metadata?.[field];
    const ops = z.object({ $eq: z.unknown().optional(), $in: z.array(z.unknown()).optional() }).strict().safeParse(condition);
    if (!ops.success || typeof condition !== "object" || condition === null) return value === condition;
    if (ops.data.$in !== undefined && !ops.data.$in.includes(value)) return false;
    if ("$eq" in condition && value !== ops.data.$eq) return false;
    return true;
  });
}

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  });
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
