import { useEffect, useState } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../api/galaxy";
import type { TokenGrant } from "../api/types";
import { sessionFromGrant, sessionStore, useSession } from "./session";

/** Refresh this long before the token expires (access tokens live 15 minutes). */
const REFRESH_AHEAD_MS = 2 * 60 * 1000;
/** After a failed renewal (an outage, a dropped connection), try again this much later. */
const RETRY_MS = 20 * 1000;

/** A fresh token for the same workspace: identity issues one on `POST /api/auth/switch`. */
export async function renewToken(workspaceId: string): Promise<void> {
  const grant = await (await ok(sdk.api.POST("/api/auth/switch", { body: { workspaceId } }))).data;
  sessionStore.set(sessionFromGrant(grant));
}

/** Keeps the session's token fresh while the console is open. */
export function useTokenRefresh(): void {
  const session = useSession();
  const [failures, setFailures] = useState(0);
  useEffect(() => {
    if (!session) return;
    const due = Date.parse(session.expiresAt) - Date.now() - REFRESH_AHEAD_MS;
    const delay = Math.max(failures > 0 ? RETRY_MS : 0, due);
    const timer = setTimeout(() => {
      renewToken(session.workspaceId).then(
        () => setFailures(0),
        // A 401 has signed the user out already; anything else is tried again until the token ends.
        () => setFailures((n) => n + 1),
      );
    }, delay);
    return () => clearTimeout(timer);
  }, [session, failures]);
}
