import { lazy, Suspense, useEffect, type ComponentType, type LazyExoticComponent } from "react";
import { Layout } from "./ui/Layout";
import { Loading } from "./ui/feedback";
import { match, navigate, usePath } from "./router";
import { useSession } from "./session/session";
import { useTokenRefresh } from "./session/refresh";
import { OidcCallback, SignIn, SignUp } from "./pages/auth";

type Page = LazyExoticComponent<ComponentType<{ params: Record<string, string> }>>;

// Each page is its own chunk: the first load carries only the shell and the sign-in form.
const routes: Array<[string, Page]> = [
  ["/agents", lazy(() => import("./pages/agents/AgentList"))],
  ["/agents/new", lazy(() => import("./pages/agents/AgentEditor"))],
  ["/agents/:id", lazy(() => import("./pages/agents/AgentPage"))],
  ["/agents/:id/edit", lazy(() => import("./pages/agents/AgentEditor"))],
  ["/executions", lazy(() => import("./pages/executions/ExecutionList"))],
  ["/executions/:id", lazy(() => import("./pages/executions/RunPage"))],
  ["/triggers", lazy(() => import("./pages/triggers/TriggersPage"))],
  ["/knowledge", lazy(() => import("./pages/knowledge/KnowledgePage"))],
  ["/knowledge/:id", lazy(() => import("./pages/knowledge/KnowledgeBasePage"))],
  ["/team", lazy(() => import("./pages/team/TeamPage"))],
  ["/audit", lazy(() => import("./pages/audit/AuditPage"))],
  ["/operators", lazy(() => import("./pages/operators/OperatorsPage"))],
];

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function NotFound() {
  return (
    <div>
      <h1>Not found</h1>
      <p>There is no page here. Pick one from the menu.</p>
    </div>
  );
}

export function App() {
  const session = useSession();
  const path = usePath();
  useTokenRefresh();
  const publicPage = path === "/sign-in" || path === "/sign-up" || path === "/auth/callback";
  useEffect(() => {
    document.title = `Galaxy console`;
  }, [path]);

  if (!session) {
    if (path === "/sign-up") return <SignUp />;
    if (path === "/auth/callback") return <OidcCallback />;
    if (path !== "/sign-in") return <Redirect to={`/sign-in`} />;
    return <SignIn />;
  }
  if (publicPage || path === "/") return <Redirect to="/agents" />;

  for (const [pattern, Component] of routes) {
    const params = match(pattern, path);
    if (params)
      return (
        <Layout>
          <Suspense fallback={<Loading />}>
            <Component key={`${session.workspaceId}${path}`} params={params} />
          </Suspense>
        </Layout>
      );
  }
  return (
    <Layout>
      <NotFound />
    </Layout>
  );
}
