import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { subjectFilter } from "./targets";

/** The rule of NATS filters read token by token from arrays: what `subjectFilter` must agree with. */
function byTokens(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== "*" && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

describe("subjectFilter", () => {
  test("the filters of Galaxy's projections", () => {
    const audit = subjectFilter("evt.>");
    expect(audit("evt.01a2514e-207c-7537-8c47-6c1d0e0f7d69.member.added")).toBe(true);
    expect(audit("evt")).toBe(false);
    expect(audit("cmd.x.y")).toBe(false);
    expect(audit("evtx.a.b")).toBe(false);
    const agents = subjectFilter("evt.*.agent.>");
    expect(agents("evt.ws.agent.updated")).toBe(true);
    expect(agents("evt.ws.agent")).toBe(false);
    expect(agents("evt.ws.agents.updated")).toBe(false);
    expect(agents("evt.ws.trigger.created")).toBe(false);
    const exact = subjectFilter("evt.*.member.added");
    expect(exact("evt.ws.member.added")).toBe(true);
    expect(exact("evt.ws.member.added.again")).toBe(false);
    expect(exact("evt.ws.member")).toBe(false);
  });

  test("agrees with the token-by-token reading on any filter and subject", () => {
    const token = fc.constantFrom("evt", "ws", "agent", "agents", "a", "", "member", "added");
    const subject = fc.array(token, { minLength: 1, maxLength: 6 }).map((tokens) => tokens.join("."));
    const filter = fc
      .tuple(fc.array(fc.oneof(token, fc.constant("*")), { maxLength: 5 }), fc.boolean())
      .map(([tokens, rest]) => [...tokens, ...(rest || tokens.length === 0 ? [">"] : [])].join("."));
    fc.assert(fc.property(filter, subject, (f, s) => subjectFilter(f)(s) === byTokens(f, s)), { numRuns: 5_000 });
  });
});
