import { useEffect } from "react";
import { galaxy } from "../api/galaxy";
import type { TokenGrant } from "../api/types";
import { sessionFromGrant, sessionStore, useSession } from "./session";

/** Refresh this long before the token expires (access tokens live 15 minutes). */
const REFRESH_AHEAD_MS = 2 * 60 * 1000;

/** A fresh token for the same workspace: identity issues one on `POST /api/auth/switch`. */
export async function renewToken(workspaceId: string): Promise<void> {
  const grant = await galaxy.data<TokenGrant>("/api/auth/switch", { method: "POST", body: { workspaceId } });
  sessionStore.set(sessionFromGrant(grant));
}

/** Keeps the session's token fresh while the console is open. */
export function useTokenRefresh(): void {
  const session = useSession();
  useEffect(() => {
    if (!session) return;
    const delay = Math.max(0, Date.parse(session.expiresAt) - Date.now() - REFRESH_AHEAD_MS);
    const timer = setTimeout(() => {
      renewToken(session.workspaceId).catch(() => {
        // The 401 has signed the user out already; any other failure retries on the next render.
      });
    }, delay);
    return () => clearTimeout(timer);
  }, [session]);
}
