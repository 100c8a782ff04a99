import { describe, expect, test } from "vitest";
import { agentConfigFromBody } from "@galaxy/contracts";
import { activation, schemaProblems } from "./agents.service";

describe("activation", () => {
  test("a draft or paused agent becomes active", () => {
    expect(activation("draft")).toEqual({ changes: true, status: "active" });
    expect(activation("paused")).toEqual({ changes: true, status: "active" });
  });

  test("an active agent stays as it is", () => {
    expect(activation("active")).toEqual({ changes: false });
  });
});

describe("schemaProblems", () => {
  const base = { name: "a", provider: "openai" as const, model: "galaxy-dev-echo", systemPrompt: "" };

  test("a config without schemas, or with valid ones, has none", () => {
    expect(schemaProblems(agentConfigFromBody(base))).toBeNull();
    expect(schemaProblems(agentConfigFromBody({ ...base, inputSchema: { type: "object" }, outputSchema: { type: "string" } }))).toBeNull();
  });

  test("every bad schema is named by its field path", () => {
    const problems = schemaProblems(
      agentConfigFromBody({
        ...base,
        inputSchema: { type: "objekt" },
        outputSchema: { type: "object" },
        tools: [
          { type: "builtin", name: "calculator" },
          { type: "webhook", name: "lookup", description: "", parameters: { required: "id" }, url: "https://tools.example.com/lookup" },
        ],
      }),
    );
    expect(Object.keys(problems ?? {}).sort()).toEqual(["inputSchema", "tools.1.parameters"]);
  });
});
