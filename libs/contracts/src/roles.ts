import { z } from "zod";

/** Member roles, lowest first: the order is what "the lower of two roles" means. */
export const ROLES = ["viewer", "member", "admin", "owner"] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

export function lowerRole(a: Role, b: Role): Role {
  return roleRank(a) <= roleRank(b) ? a : b;
}

/** Per-member overrides of what the role allows (docs/api.md, Roles). */
export const Permissions = z
  .object({
    agents: z.object({ create: z.boolean(), edit: z.boolean(), delete: z.boolean() }).partial().optional(),
    billing: z.object({ view: z.boolean(), manage: z.boolean() }).partial().optional(),
  })
  .strict();
export type Permissions = z.infer<typeof Permissions>;
