import { useMutation, useQuery } from "@tanstack/react-query";
import { ok } from "@galaxy/sdk";
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { sdk } from "../api/galaxy";
import type { SignupResult, TokenGrant } from "../api/types";
import { Link, navigate, useSearch } from "../router";
import { redirectUri, returnedSignIn, startOidcSignIn } from "../session/oidc";
import { sessionFromGrant, sessionStore } from "../session/session";
import { ErrorNotice } from "../ui/feedback";
import { FormError, TextField } from "../ui/form";

function AuthCard({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main id="main" className="auth">
      <div className="auth-card">
        <p className="brand">Galaxy</p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}

function start(grant: TokenGrant) {
  sessionStore.set(sessionFromGrant(grant));
  navigate("/agents", { replace: true });
}

export function SignIn() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const login = useMutation({
    mutationFn: () => ok(sdk.api.POST("/api/auth/login", { body: { email, password } })).then((r) => r.data),
    onSuccess: start,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    login.mutate();
  };
  return (
    <AuthCard title="Sign in">
      <form onSubmit={submit} noValidate>
        <TextField label="Email" name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={login.error} />
        <TextField label="Password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} error={login.error} />
        <FormError error={login.error} />
        <button type="submit" className="primary" disabled={login.isPending}>
          {login.isPending ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <ProviderSignIn />
      <p>
        New to Galaxy? <Link to="/sign-up">Create an account</Link>
      </p>
    </AuthCard>
  );
}

/** "Sign in with <provider>", when the API says a browser sign-in is configured. */
function ProviderSignIn() {
  const info = useQuery({ queryKey: ["oidc"], queryFn: ({ signal }) => ok(sdk.api.GET("/api/auth/oidc", { signal })).then((r) => r.data), staleTime: 300_000 });
  const go = useMutation({ mutationFn: startOidcSignIn });
  const provider = info.data;
  if (!provider?.enabled || !provider.authorizationUrl || !provider.clientId) return null;
  const { authorizationUrl, clientId } = provider;
  return (
    <div className="provider-sign-in">
      <p className="hint">or</p>
      <button type="button" onClick={() => go.mutate({ authorizationUrl, clientId, scopes: provider.scopes ?? "openid email profile" })} disabled={go.isPending}>
        Sign in with {provider.providerName}
      </button>
      {go.isError ? <ErrorNotice error={go.error} /> : null}
    </div>
  );
}

/** `/auth/callback`: the provider sent the browser back; the API trades its code for a Galaxy token. */
export function OidcCallback() {
  const search = useSearch();
  const [returned] = useState(() => returnedSignIn(search));
  const redeem = useMutation({
    mutationFn: (grant: { code: string; codeVerifier: string }) => ok(sdk.api.POST("/api/auth/oidc/token", { body: { ...grant, redirectUri: redirectUri() } })).then((r) => r.data),
    onSuccess: start,
  });
  const asked = useRef(false);
  useEffect(() => {
    if (asked.current || "problem" in returned) return;
    asked.current = true;
    redeem.mutate(returned);
  }, [returned, redeem]);
  const problem = "problem" in returned ? returned.problem : null;
  return (
    <AuthCard title="Signing you in">
      {problem ? <p role="alert">{problem}</p> : null}
      {redeem.isError ? <ErrorNotice error={redeem.error} /> : null}
      {problem || redeem.isError ? (
        <p>
          <Link to="/sign-in">Back to sign in</Link>
        </p>
      ) : (
        <p role="status">Signing you in…</p>
      )}
    </AuthCard>
  );
}

export function SignUp() {
  const [form, setForm] = useState({ name: "", email: "", password: "", workspaceName: "" });
  const signup = useMutation({
    mutationFn: () => ok(sdk.api.POST("/api/auth/signup", { body: form })).then((r) => r.data),
    onSuccess: start,
  });
  const set = (key: keyof typeof form) => (event: { target: { value: string } }) => setForm({ ...form, [key]: event.target.value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    signup.mutate();
  };
  return (
    <AuthCard title="Create your account">
      <form onSubmit={submit} noValidate>
        <TextField label="Your name" name="name" autoComplete="name" required value={form.name} onChange={set("name")} error={signup.error} />
        <TextField label="Email" name="email" type="email" autoComplete="email" required value={form.email} onChange={set("email")} error={signup.error} />
        <TextField label="Password" name="password" type="password" autoComplete="new-password" required value={form.password} onChange={set("password")} error={signup.error} hint="At least 12 characters." />
        <TextField label="Workspace name" name="workspaceName" required value={form.workspaceName} onChange={set("workspaceName")} error={signup.error} hint="Your team's space for agents; you can add more later." />
        <FormError error={signup.error} />
        <button type="submit" className="primary" disabled={signup.isPending}>
          {signup.isPending ? "Creating…" : "Create account"}
        </button>
      </form>
      <p>
        Already have an account? <Link to="/sign-in">Sign in</Link>
      </p>
    </AuthCard>
  );
}
