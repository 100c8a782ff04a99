import { describe, expect, test } from "vitest";
import { CredentialBaseUrl, CredentialSummary, last4, PutCredentialBody, PutCredentialRequest } from "./credentials";
import { isSecretField } from "./redaction";

describe("provider credential bodies", () => {
  test("a key with an optional http(s) base URL is accepted", () => {
    expect(PutCredentialBody.parse({ apiKey: "sk-proj-abcdef123456" })).toEqual({ apiKey: "sk-proj-abcdef123456" });
    expect(PutCredentialBody.parse({ apiKey: "sk-ant-abcdef", baseUrl: "http://127.0.0.1:8089/v1" }).baseUrl).toBe("http://127.0.0.1:8089/v1");
  });

  test.each([
    ["a short key", { apiKey: "sk-1" }],
    ["a key with spaces", { apiKey: "sk proj abcdef" }],
    ["an unknown field", { apiKey: "sk-proj-abcdef", organization: "x" }],
    ["a base URL that is not http(s)", { apiKey: "sk-proj-abcdef", baseUrl: "file:///etc/passwd" }],
    ["a base URL with a password in it", { apiKey: "sk-proj-abcdef", baseUrl: "https://user:pass@example.com/v1" }],
    // Found by the fuzz test: the user-info check threw on what is no URL at all (a 500).
    ["a base URL that is no URL at all", { apiKey: "sk-proj-abcdef", baseUrl: "not a url" }],
  ])("%s is refused", (_name, body) => {
    expect(PutCredentialBody.safeParse(body).success).toBe(false);
  });

  test("only openai, anthropic, google and pinecone are providers", () => {
    expect(PutCredentialRequest.safeParse({ provider: "pinecone", apiKey: "pcsk-abcdef12" }).success).toBe(true);
    expect(PutCredentialRequest.safeParse({ provider: "google", apiKey: "AIzaSyabcdef12" }).success).toBe(true);
    expect(PutCredentialRequest.safeParse({ provider: "cohere", apiKey: "co-abcdef12" }).success).toBe(false);
  });

  test("a base URL with only a user name is refused too", () => {
    expect(CredentialBaseUrl.safeParse("https://user@example.com").success).toBe(false);
  });
});

describe("what is shown of a key", () => {
  test("its last four characters", () => {
    expect(last4("sk-proj-abcdef9f3a")).toBe("9f3a");
  });

  test("a summary has no field that holds a secret", () => {
    expect(Object.keys(CredentialSummary.shape).filter(isSecretField)).toEqual([]);
    expect(isSecretField(Object.keys(PutCredentialBody.shape)[0] ?? "")).toBe(true);
  });
});
