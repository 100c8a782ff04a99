import { z } from "zod";

export const Uuid = z.uuid();
export type Uuid = z.infer<typeof Uuid>;

/** Platform-level events (user sync, grants, key rotation, replays) live in this workspace. */
export const SYSTEM_WORKSPACE_ID = "00000000-0000-0000-0000-000000000000";

/** Workspace ids include the system workspace, whose all-zero form is not a versioned UUID. */
export const WorkspaceId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a workspace id");
export type WorkspaceId = z.infer<typeof WorkspaceId>;

export const IsoDateTime = z.iso.datetime({ offset: true });
export type IsoDateTime = z.infer<typeof IsoDateTime>;
