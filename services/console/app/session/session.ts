import { useSyncExternalStore } from "react";
import type { TokenGrant } from "../api/types";

/**
 * The signed-in session: the access token and the workspace it is for, kept in sessionStorage
 * so a reload survives and closing the tab forgets it. Nothing else of the user is stored.
 */
export interface Session {
  accessToken: string;
  expiresAt: string;
  workspaceId: string;
  workspaceName: string;
  role: TokenGrant["role"];
}

const STORAGE_KEY = "galaxy.console.session";
const listeners = new Set<() => void>();
let current: Session | null = read();

function read(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<Session>;
    if (typeof parsed.accessToken !== "string" || typeof parsed.expiresAt !== "string" || typeof parsed.workspaceId !== "string") return null;
    // An expired token cannot be refreshed: the user signs in again.
    if (Date.parse(parsed.expiresAt) <= Date.now()) return null;
    return { accessToken: parsed.accessToken, expiresAt: parsed.expiresAt, workspaceId: parsed.workspaceId, workspaceName: parsed.workspaceName ?? "", role: parsed.role ?? "viewer" };
  } catch {
    return null;
  }
}

function emit(): void {
  for (const listener of listeners) listener();
}

export function sessionFromGrant(grant: TokenGrant): Session {
  return { accessToken: grant.accessToken, expiresAt: grant.expiresAt, workspaceId: grant.workspace.id, workspaceName: grant.workspace.name, role: grant.role };
}

export const sessionStore = {
  get: (): Session | null => current,
  set(next: Session | null): void {
    current = next;
    if (next) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    else sessionStorage.removeItem(STORAGE_KEY);
    emit();
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export function useSession(): Session | null {
  return useSyncExternalStore(sessionStore.subscribe, sessionStore.get);
}
