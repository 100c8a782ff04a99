import type { Bus } from "@galaxy/bus";
import type { Kysely } from "@galaxy/db";
import type { Authenticator } from "../auth/principal";
import type { GatewayDb } from "../db";

/** What every route group needs. */
export interface RouteDeps {
  bus: Bus;
  db: Kysely<GatewayDb>;
  auth: Authenticator;
}
