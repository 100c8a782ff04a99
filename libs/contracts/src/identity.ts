import { z } from "zod";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";
import { Role } from "./roles";

export const Email = z.email().max(320).transform((email) => email.toLowerCase());
export type Email = z.infer<typeof Email>;

export const SignupBody = z
  .object({
    email: Email,
    password: z.string().min(12, "must be at least 12 characters").max(1024),
    name: z.string().trim().min(1).max(200),
    workspaceName: z.string().trim().min(1).max(200),
  })
  .strict();
export type SignupBody = z.infer<typeof SignupBody>;

export const LoginBody = z
  .object({ email: Email, password: z.string().min(1).max(1024), workspaceId: Uuid.optional() })
  .strict();
export type LoginBody = z.infer<typeof LoginBody>;

export const User = z.object({ id: Uuid, email: z.string(), name: z.string() });
export type User = z.infer<typeof User>;

export const Workspace = z.object({ id: WorkspaceId, name: z.string(), slug: z.string() });
export type Workspace = z.infer<typeof Workspace>;

export const TokenGrant = z.object({ accessToken: z.string(), expiresAt: IsoDateTime });
export type TokenGrant = z.infer<typeof TokenGrant>;

export const SignupResult = TokenGrant.extend({ user: User, workspace: Workspace, role: z.literal("owner") });
export type SignupResult = z.infer<typeof SignupResult>;

export const LoginResult = TokenGrant.extend({ workspace: Workspace, role: Role });
export type LoginResult = z.infer<typeof LoginResult>;

export const Me = z.object({
  user: User,
  workspace: Workspace,
  role: Role,
  memberships: z.array(z.object({ workspace: Workspace, role: Role })),
});
export type Me = z.infer<typeof Me>;
