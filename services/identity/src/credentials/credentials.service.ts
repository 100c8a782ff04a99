import {
  authorize, ForbiddenError, last4, pagination, principalOf, type CredentialRef, type CredentialStored, type CredentialSummary,
  type EventActor, type PageQuery, type Pagination, type PutCredentialRequest, type ResolvedCredential, type WorkspaceClaim,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, type EventContext, type Kysely, type OutboxRelay } from "@galaxy/db";
import type { SecretBox } from "@galaxy/secrets";
import type { IdentityDb } from "../db";
import { CredentialNotFoundError } from "../errors";
import { credentialsToReseal, deleteCredential, findCredential, listCredentials, resealCredential, upsertCredential } from "./credentials.repository";

/**
 * The services whose service claim may resolve a workspace's provider key, and which keys
 * each may have. NATS permissions (infra/nats) keep everyone else from even asking; this is
 * the second lock. The registry embeds knowledge documents (OpenAI or Google) and keeps their
 * vectors (Pinecone); it never needs the Anthropic key.
 */
export const CREDENTIAL_RESOLVERS: ReadonlyMap<string, ReadonlySet<CredentialRef["provider"]>> = new Map([
  ["execution-worker", new Set(["openai", "anthropic", "google", "pinecone"] as const)],
  ["agent-registry", new Set(["openai", "google", "pinecone"] as const)],
]);

export interface CredentialsServiceDeps {
  db: Kysely<IdentityDb>;
  box: SecretBox;
  relay: OutboxRelay;
}

/** Who asks, and the context of the events their request causes. */
export interface CredentialsCaller {
  claim: WorkspaceClaim;
  eventContext: () => EventContext;
}

/**
 * Workspace provider keys (OpenAI, Anthropic, Google, Pinecone): sealed with AES-256-GCM under the
 * master key, shown only by their last four characters, and opened for one caller alone, the
 * execution worker, with a service claim.
 */
export class CredentialsService {
  constructor(private readonly deps: CredentialsServiceDeps) {}

  async put(request: PutCredentialRequest, caller: CredentialsCaller): Promise<CredentialStored> {
    const { db, box, relay } = this.deps;
    const { claim } = caller;
    requireManage(claim);
    const apiKey = request.apiKey;
    const shown = last4(apiKey);
    const baseUrl = request.baseUrl ?? null;
    const { row, event } = await inWorkspace(db, claim.ws, async (tx) => {
      const stored = await upsertCredential(tx, {
        workspaceId: claim.ws,
        provider: request.provider,
        ciphertext: box.seal(apiKey),
        baseUrl,
        last4: shown,
        keyId: box.keyId,
        updatedBy: claim.sub,
      });
      const appended = await appendEvent(tx, {
        type: "provider_credential.updated",
        workspaceId: claim.ws,
        actor: actorOf(claim),
        context: caller.eventContext(),
        data: { provider: request.provider, last4: shown, baseUrl },
      });
      return { row: stored, event: appended };
    });
    relay.publishNow([event]);
    return { provider: row.provider, last4: row.last4, updatedAt: row.updated_at.toISOString() };
  }

  async list(page: PageQuery, claim: WorkspaceClaim): Promise<{ items: CredentialSummary[]; pagination: Pagination }> {
    requireManage(claim);
    const { items, total } = await inWorkspace(this.deps.db, claim.ws, (tx) => listCredentials(tx, claim.ws, page));
    return { items, pagination: pagination(total, page) };
  }

  async delete(request: CredentialRef, caller: CredentialsCaller): Promise<Record<string, never>> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    requireManage(claim);
    const event = await inWorkspace(db, claim.ws, async (tx) => {
      if (!(await deleteCredential(tx, claim.ws, request.provider))) throw new CredentialNotFoundError(request.provider);
      return appendEvent(tx, {
        type: "provider_credential.deleted",
        workspaceId: claim.ws,
        actor: actorOf(claim),
        context: caller.eventContext(),
        data: { provider: request.provider },
      });
    });
    relay.publishNow([event]);
    return {};
  }

  /**
   * The workspace's key for a provider, for the execution worker's model calls (and the registry's
   * embeddings and vector store). Only a service
   * claim of a resolver service may ask; a user, an API key or an operator gets a 403 whatever
   * its role. A row sealed under a previous master key is sealed again with the current one.
   */
  async resolve(request: CredentialRef, claim: WorkspaceClaim): Promise<ResolvedCredential> {
    const { db, box } = this.deps;
    if (claim.act !== "service" || !CREDENTIAL_RESOLVERS.get(claim.sub)?.has(request.provider)) {
      throw new ForbiddenError("Provider credentials are resolved by the execution worker (and the registry, for knowledge bases) alone", "forbidden");
    }
    return inWorkspace(db, claim.ws, async (tx) => {
      const row = await findCredential(tx, claim.ws, request.provider);
      if (!row) throw new CredentialNotFoundError(request.provider);
      const apiKey = box.open(row.ciphertext);
      if (box.isStale(row.ciphertext)) await resealCredential(tx, row, box.seal(apiKey), box.keyId);
      return { apiKey, baseUrl: row.base_url };
    });
  }
}

const RESEAL_BATCH = 100;

/**
 * Seals every provider key that an older master key sealed again under the current one, in
 * batches, each row in its own workspace's transaction. Identity runs it at start, so a
 * rotation is complete once it has run; safe to run on several instances at once (a row that
 * changed meanwhile is left as the other writer left it). Returns how many rows it sealed
 * again, and how many it could not (no key it holds opens them: they wait for an operator).
 */
export async function resealCredentials(deps: Pick<CredentialsServiceDeps, "db" | "box">): Promise<{ resealed: number; failed: number }> {
  const { db, box } = deps;
  let resealed = 0;
  let failed = 0;
  // Each row is tried once per run, so the run ends even while an instance still on the old
  // key writes rows back (a rolling deploy), or a row opens with no key here.
  const tried = new Set<string>();
  for (;;) {
    const batch = (await credentialsToReseal(db, box.keyId, RESEAL_BATCH + tried.size)).filter((row) => !tried.has(`${row.workspaceId}:${row.provider}`));
    if (batch.length === 0) return { resealed, failed };
    for (const { workspaceId, provider } of batch) {
      tried.add(`${workspaceId}:${provider}`);
      const done = await inWorkspace(db, workspaceId, async (tx) => {
        const row = await findCredential(tx, workspaceId, provider);
        if (!row || !box.isStale(row.ciphertext)) return false;
        await resealCredential(tx, row, box.seal(box.open(row.ciphertext)), box.keyId);
        return true;
      }).catch(() => null);
      if (done === null) failed += 1;
      else if (done) resealed += 1;
    }
  }
}

function requireManage(claim: WorkspaceClaim): void {
  if (!authorize(principalOf(claim), "credentials.manage")) throw new ForbiddenError("Your role does not allow managing provider credentials", "forbidden");
}

function actorOf(claim: WorkspaceClaim): EventActor {
  return { type: claim.act, id: claim.sub };
}
