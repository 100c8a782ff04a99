import { z } from "zod";
import { IsoDateTime } from "./ids";

/** The providers a workspace may hold a key for (docs/api.md). */
export const CredentialProvider = z.enum(["openai", "anthropic", "google", "pinecone"]);
export type CredentialProvider = z.infer<typeof CredentialProvider>;

/**
 * Where a provider's API is, when not at the provider itself (a proxy, Azure OpenAI, a
 * self-hosted gateway). http(s) only, and never with credentials in the URL.
 */
export const CredentialBaseUrl = z.url({ protocol: /^https?$/ }).max(2048).refine(withoutUserinfo, "must not carry a user name or password");

/** True for a URL without a user name or password (`https://user:pass@host` is refused wherever Galaxy takes a URL). */
export function withoutUserinfo(value: string): boolean {
  // zod runs this refinement even when `z.url()` has refused the value: that refusal suffices.
  if (!URL.canParse(value)) return true;
  const url = new URL(value);
  return url.username === "" && url.password === "";
}
export type CredentialBaseUrl = z.infer<typeof CredentialBaseUrl>;

/** Body of `PUT /api/provider-credentials/{provider}`: the key is write-only. */
export const PutCredentialBody = z
  .object({
    apiKey: z.string().trim().min(8, "is too short to be a provider key").max(1024).regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
    baseUrl: CredentialBaseUrl.optional(),
  })
  .strict();
export type PutCredentialBody = z.infer<typeof PutCredentialBody>;

/** A stored credential as anyone may see it: never the key, only its last four characters. */
export const CredentialSummary = z.object({
  provider: CredentialProvider,
  last4: z.string().max(4),
  baseUrl: z.string().nullable(),
  updatedAt: IsoDateTime,
});
export type CredentialSummary = z.infer<typeof CredentialSummary>;

/** What `PUT` answers (docs/api.md: `{provider, last4, updatedAt}`). */
export const CredentialStored = CredentialSummary.pick({ provider: true, last4: true, updatedAt: true });
export type CredentialStored = z.infer<typeof CredentialStored>;

export const PutCredentialRequest = PutCredentialBody.extend({ provider: CredentialProvider }).strict();
export type PutCredentialRequest = z.infer<typeof PutCredentialRequest>;

export const CredentialRef = z.object({ provider: CredentialProvider }).strict();
export type CredentialRef = z.infer<typeof CredentialRef>;

/**
 * The one reply that carries a provider key: `identity.credentials.resolve`, which only the
 * execution worker's NATS user may ask (infra/nats) and only with a service claim.
 */
export const ResolvedCredential = z.object({ apiKey: z.string().min(1), baseUrl: z.string().nullable() });
export type ResolvedCredential = z.infer<typeof ResolvedCredential>;

export const ProviderCredentialUpdated = z.object({ provider: CredentialProvider, last4: z.string().max(4), baseUrl: z.string().nullable() });
export type ProviderCredentialUpdated = z.infer<typeof ProviderCredentialUpdated>;

export const ProviderCredentialDeleted = z.object({ provider: CredentialProvider });
export type ProviderCredentialDeleted = z.infer<typeof ProviderCredentialDeleted>;

/** The last four characters of a key, the only part of it Galaxy ever shows. */
export function last4(apiKey: string): string {
  return apiKey.slice(-4);
}
