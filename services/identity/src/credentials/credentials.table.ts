import type { CredentialProvider } from "@galaxy/contracts";
import type { Generated, Selectable } from "@galaxy/db";

/** `identity.provider_credentials`: one sealed provider key per workspace and provider. */
export interface ProviderCredentialsTable {
  workspace_id: string;
  provider: CredentialProvider;
  /** `SecretBox.seal(apiKey)`: `v1.<keyId>.<iv>.<tag>.<data>`. */
  ciphertext: string;
  base_url: string | null;
  last4: string;
  /** The master key that sealed `ciphertext`. */
  key_id: string;
  updated_at: Generated<Date>;
  /** The user or API key that last wrote the row. */
  updated_by: string;
}
export type ProviderCredentialRow = Selectable<ProviderCredentialsTable>;
