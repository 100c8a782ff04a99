import type { Bus } from "@galaxy/bus";
import type { ApiKeysService } from "./api-keys.service";

/** Serves `svc.identity.api_keys.*`. */
export function serveApiKeys(bus: Bus, apiKeys: ApiKeysService): void {
  bus.serve("identity.api_keys.create", (body, ctx) => apiKeys.create(body, ctx));
  bus.serve("identity.api_keys.list", (query, ctx) => apiKeys.list(query, ctx));
  bus.serve("identity.api_keys.revoke", (body, ctx) => apiKeys.revoke(body.id, ctx));
  bus.serve("identity.api_keys.authenticate", (body) => apiKeys.authenticate(body.key));
}
