import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../api/galaxy";
import type { Me, TokenGrant } from "../api/types";
import { Link, navigate, usePath } from "../router";
import { sessionFromGrant, sessionStore, useSession } from "../session/session";
import { isSystemAdmin } from "../session/token";

const NAV = [
  ["/agents", "Agents"],
  ["/executions", "Executions"],
  ["/triggers", "Triggers"],
  ["/knowledge", "Knowledge"],
  ["/team", "Team"],
  ["/audit", "Audit"],
] as const;

function WorkspaceSwitcher() {
  const session = useSession();
  const client = useQueryClient();
  const me = useQuery({ queryKey: ["me"], queryFn: () => ok(sdk.api.GET("/api/me")).then((r) => r.data) });
  const [error, setError] = useState<string | null>(null);
  const switchTo = async (workspaceId: string) => {
    setError(null);
    try {
      const grant = await (await ok(sdk.api.POST("/api/auth/switch", { body: { workspaceId } }))).data;
      sessionStore.set(sessionFromGrant(grant));
      // Everything cached belongs to the workspace left behind.
      client.clear();
      navigate("/agents");
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : "Could not switch workspace");
    }
  };
  const memberships = me.data?.memberships ?? [];
  return (
    <div className="switcher">
      <label htmlFor="workspace-switcher" className="visually-hidden">
        Workspace
      </label>
      <select id="workspace-switcher" value={session?.workspaceId ?? ""} onChange={(event) => void switchTo(event.target.value)} disabled={memberships.length < 2}>
        {memberships.length === 0 && session ? <option value={session.workspaceId}>{session.workspaceName}</option> : null}
        {memberships.map((m) => (
          <option key={m.workspace.id} value={m.workspace.id}>
            {m.workspace.name} ({m.role})
          </option>
        ))}
      </select>
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : null}
      {me.data ? <span className="who">{me.data.user.email}</span> : null}
    </div>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const path = usePath();
  const client = useQueryClient();
  const session = useSession();
  const isAdmin = session ? isSystemAdmin(session.accessToken) : false;
  const [menuOpen, setMenuOpen] = useState(false);
  const signOut = () => {
    sessionStore.set(null);
    client.clear();
    navigate("/sign-in");
  };
  const nav = isAdmin ? [...NAV, ["/operators", "Operators"] as const] : NAV;
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/agents" className="brand">
          Galaxy
        </Link>
        <button type="button" className="menu-toggle" aria-expanded={menuOpen} aria-controls="primary-nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <WorkspaceSwitcher />
        <button type="button" className="link-button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav id="primary-nav" aria-label="Primary" className={menuOpen ? "open" : ""}>
        <ul>
          {nav.map(([to, label]) => (
            <li key={to}>
              <Link to={to} aria-current={path.startsWith(to) ? "page" : undefined} onClick={() => setMenuOpen(false)}>
                {label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
