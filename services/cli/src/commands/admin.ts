import type { Bus } from "@galaxy/bus";
import type { SystemAdminGrant } from "@galaxy/contracts";

/**
 * `galaxy admin grant-system-admin <email>`: gives an existing user the `system_admin` flag,
 * recorded as `user.system_admin_granted` in the system workspace. Granting it again is a no-op.
 */
export async function grantSystemAdmin(bus: Bus, email: string): Promise<SystemAdminGrant> {
  return bus.request("identity.operator.grant_system_admin", { email });
}

export function describeGrant(grant: SystemAdminGrant): string {
  return grant.changed
    ? `${grant.email} (${grant.userId}) is now a system admin; it takes effect at their next sign-in.`
    : `${grant.email} (${grant.userId}) was a system admin already; nothing changed.`;
}
