import { lowerRole, roleRank, type Permissions, type Role } from "@galaxy/contracts";

/**
 * What an API key may do right now (docs/api.md): the lower of its own role and its creator's
 * current one. The creator's permission overrides come along, but a key whose role is below its
 * creator's keeps only the overrides that take rights away: one that grants (say `agents.delete`
 * to a member) was given to the creator, not to a key that was deliberately made smaller.
 */
export function apiKeyAuthority(keyRole: Role, creator: { role: Role; perms: Permissions | undefined }): { role: Role; perms: Permissions | undefined } {
  const role = lowerRole(keyRole, creator.role);
  if (!creator.perms || roleRank(keyRole) >= roleRank(creator.role)) return { role, perms: nonEmpty(creator.perms) };
  return { role, perms: nonEmpty(restrictionsOnly(creator.perms)) };
}

function restrictionsOnly(perms: Permissions): Permissions {
  const out: Permissions = {};
  if (perms.agents) {
    const agents = Object.fromEntries(Object.entries(perms.agents).filter(([, allowed]) => allowed === false));
    if (Object.keys(agents).length > 0) out.agents = agents;
  }
  if (perms.billing) {
    const billing = Object.fromEntries(Object.entries(perms.billing).filter(([, allowed]) => allowed === false));
    if (Object.keys(billing).length > 0) out.billing = billing;
  }
  return out;
}

function nonEmpty(perms: Permissions | undefined): Permissions | undefined {
  return perms && Object.keys(perms).length > 0 ? perms : undefined;
}
