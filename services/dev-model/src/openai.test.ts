import OpenAI from "openai";
import { describe, expect } from "vitest";
import { countTokens } from "./tokens";
import { devModelTest as test } from "../test/fixtures";

test.beforeEach(async ({ server }) => server.control({ reset: true }));

const calculator: OpenAI.Chat.ChatCompletionFunctionTool = {
  type: "function",
  function: {
    name: "calculator",
    description: "Evaluates an arithmetic expression",
    parameters: { type: "object", properties: { expression: { type: "string" }, precision: { type: "integer" } }, required: ["expression", "precision"] },
  },
};

describe("chat completions over the openai client", () => {
  test("echoes the last user message and reports usage", async ({ openai }) => {
    const completion = await openai.chat.completions.create({
      model: "galaxy-dev-echo",
      messages: [
        { role: "system", content: "You are a test." },
        { role: "user", content: "first question" },
        { role: "assistant", content: "first answer" },
        { role: "user", content: [{ type: "text", text: "Hello," }, { type: "text", text: "world!" }] },
      ],
    });
    const text = "echo: Hello,\nworld!";
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]?.message).toMatchObject({ role: "assistant", content: text });
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    const promptTokens = countTokens("You are a test.") + countTokens("first question") + countTokens("first answer") + countTokens("Hello,\nworld!");
    expect(completion.usage).toMatchObject({ prompt_tokens: promptTokens, completion_tokens: 6, total_tokens: promptTokens + 6 });
  });

  test("streams chunks that reassemble to the non-streamed answer, then a usage chunk", async ({ openai }) => {
    const request = { model: "galaxy-dev-echo", messages: [{ role: "user" as const, content: "The quick brown fox, again." }] };
    const whole = await openai.chat.completions.create(request);

    const stream = await openai.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let deltas = 0;
    const finishReasons: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      const choice = chunk.choices[0];
      if (choice?.delta.content) {
        text += choice.delta.content;
        deltas += 1;
      }
      if (choice?.finish_reason) finishReasons.push(choice.finish_reason);
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(deltas).toBe(countTokens(text));
    expect(finishReasons).toEqual(["stop"]);
    expect(usage).toEqual(whole.usage);
  });

  test("the client's stream helper accumulates the same message", async ({ openai }) => {
    const final = await openai.chat.completions
      .stream({ model: "galaxy-dev-echo", messages: [{ role: "user", content: "stream me" }] })
      .finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe("echo: stream me");
  });

  test("frames the stream as OpenAI does, ending with [DONE]", async ({ server }) => {
    const response = await server.app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      payload: { model: "galaxy-dev-echo", stream: true, messages: [{ role: "user", content: "hi" }] },
    });
    expect(response.headers["content-type"]).toMatch(/^text\/event-stream/);
    const frames = response.body.split("\n\n").filter((frame) => frame !== "");
    expect(frames.every((frame) => frame.startsWith("data: "))).toBe(true);
    expect(frames.at(-1)).toBe("data: [DONE]");
    // Without include_usage OpenAI sends no usage key at all.
    expect(frames.slice(0, -1).some((frame) => frame.includes('"usage"'))).toBe(false);
  });

  test("cuts the answer at max_completion_tokens with finish_reason length", async ({ openai }) => {
    const completion = await openai.chat.completions.create({
      model: "galaxy-dev-echo",
      max_completion_tokens: 3,
      messages: [{ role: "user", content: "one two three four" }],
    });
    expect(completion.choices[0]).toMatchObject({ finish_reason: "length", message: { content: "echo: one" } });
    expect(completion.usage?.completion_tokens).toBe(3);
  });

  test("runs a tool-call round with galaxy-dev-tools", async ({ openai }) => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: "user", content: "What is 1+1?" }];
    const first = await openai.chat.completions.create({ model: "galaxy-dev-tools", messages, tools: [calculator] });
    const choice = first.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    const call = choice?.message.tool_calls?.[0];
    if (call?.type !== "function") throw new Error("expected a function tool call");
    expect(call.id).toMatch(/^call_[0-9a-f]+$/);
    expect(call.function.name).toBe("calculator");
    expect(JSON.parse(call.function.arguments)).toEqual({ expression: "What is 1+1?", precision: 1 });

    const again = await openai.chat.completions.create({ model: "galaxy-dev-tools", messages, tools: [calculator] });
    expect(again.choices[0]?.message.tool_calls?.[0]?.id).toBe(call.id);

    messages.push(choice?.message ?? { role: "assistant", content: null }, { role: "tool", tool_call_id: call.id, content: "2" });
    const second = await openai.chat.completions.create({ model: "galaxy-dev-tools", messages, tools: [calculator] });
    expect(second.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: "echo: What is 1+1? (tool: 2)" } });
  });

  test("streams a tool call that the stream helper reassembles", async ({ openai }) => {
    const final = await openai.chat.completions
      .stream({ model: "galaxy-dev-tools", messages: [{ role: "user", content: "calc" }], tools: [calculator] })
      .finalChatCompletion();
    const choice = final.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    const call = choice?.message.tool_calls?.[0];
    if (call?.type !== "function") throw new Error("expected a function tool call");
    expect(call.function.name).toBe("calculator");
    expect(JSON.parse(call.function.arguments)).toEqual({ expression: "calc", precision: 1 });
  });

  test("answers 400 in OpenAI's error shape for a bad body", async ({ server, openai }) => {
    const error = await openai.chat.completions.create({ model: "galaxy-dev-echo", messages: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    if (!(error instanceof OpenAI.BadRequestError)) return;
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ type: "invalid_request_error", param: "messages" });

    const raw = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "galaxy-dev-echo", messages: [{ role: "wizard", content: "hi" }] }),
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({
      error: { message: expect.any(String), type: "invalid_request_error", param: "messages.0.role", code: "invalid_value" },
    });
  });

  test("refuses a max_tokens beyond what a model can write, as real providers do", async ({ openai }) => {
    for (const limit of [{ max_tokens: 200_000 }, { max_completion_tokens: 200_000 }]) {
      const error = await openai.chat.completions.create({ model: "galaxy-dev-echo", messages: [{ role: "user", content: "hi" }], ...limit }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    }
    const fine = await openai.chat.completions.create({ model: "galaxy-dev-echo", messages: [{ role: "user", content: "hi" }], max_tokens: 128_000 });
    expect(fine.choices[0]?.message.content).toBe("echo: hi");
  });

  test("answers 404 model_not_found for an unknown model", async ({ openai }) => {
    const error = await openai.chat.completions.create({ model: "gpt-nope", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    if (!(error instanceof OpenAI.NotFoundError)) return;
    expect(error.code).toBe("model_not_found");
  });

  test("lists and retrieves the models", async ({ openai }) => {
    const ids: string[] = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    expect(ids).toEqual(["galaxy-dev-echo", "galaxy-dev-tools", "galaxy-dev-embed", "text-embedding-3-small", "gemini-embedding-001"]);
    expect(await openai.models.retrieve("galaxy-dev-embed")).toMatchObject({ id: "galaxy-dev-embed", object: "model" });
  });

  test("answers /health", async ({ server }) => {
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
  });
});
