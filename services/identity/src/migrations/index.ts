import { outboxRetentionMigration, type Migration } from "@galaxy/db";
import * as createIdentity from "./2026_11_26_00_00_00_create_identity";
import * as createApiKeys from "./2026_11_26_01_30_00_create_api_keys";
import * as createProviderCredentials from "./2026_11_26_01_40_00_create_provider_credentials";
import * as createMemberExistsElsewhere from "./2026_11_26_01_45_00_create_member_exists_elsewhere";
import * as createExternalIdentities from "./2026_11_26_01_50_00_create_external_identities";
import * as addSigningKeyLifecycle from "./2026_11_26_02_00_00_add_signing_key_lifecycle";
import * as createApiKeyExistsElsewhere from "./2026_11_26_02_10_00_create_api_key_exists_elsewhere";
import * as allowGoogleCredentials from "./2026_12_04_22_00_00_allow_google_credentials";

/** Identity's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {
  "2026_11_26_00_00_00_create_identity": createIdentity,
  "2026_11_26_01_30_00_create_api_keys": createApiKeys,
  "2026_11_26_01_40_00_create_provider_credentials": createProviderCredentials,
  "2026_11_26_01_45_00_create_member_exists_elsewhere": createMemberExistsElsewhere,
  "2026_11_26_01_50_00_create_external_identities": createExternalIdentities,
  "2026_11_26_02_00_00_add_signing_key_lifecycle": addSigningKeyLifecycle,
  "2026_11_26_02_10_00_create_api_key_exists_elsewhere": createApiKeyExistsElsewhere,
  "2026_12_04_22_00_00_allow_google_credentials": allowGoogleCredentials,
  "2026_12_06_07_40_00_outbox_keeps_recent_rows": outboxRetentionMigration("identity"),
};
