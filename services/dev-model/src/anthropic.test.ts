import Anthropic from "@anthropic-ai/sdk";
import { describe, expect } from "vitest";
import { countTokens } from "./tokens";
import { devModelTest as test } from "../test/fixtures";


const lookup: Anthropic.Tool = {
  name: "lookup",
  description: "Looks a word up",
  input_schema: { type: "object", properties: { word: { type: "string" }, limit: { type: "number" } }, required: ["word"] },
};

describe("messages over the anthropic client", () => {
  test("echoes the last user message with usage", async ({ anthropic }) => {
    const message = await anthropic.messages.create({
      model: "galaxy-dev-echo",
      max_tokens: 100,
      system: "Be brief.",
      messages: [{ role: "user", content: [{ type: "text", text: "Hello, Claude!" }] }],
    });
    expect(message).toMatchObject({ type: "message", role: "assistant", stop_reason: "end_turn", model: "galaxy-dev-echo" });
    expect(message.content).toEqual([expect.objectContaining({ type: "text", text: "echo: Hello, Claude!" })]);
    expect(message.usage).toMatchObject({
      input_tokens: countTokens("Be brief.") + countTokens("Hello, Claude!"),
      output_tokens: countTokens("echo: Hello, Claude!"),
    });
  });

  test("streams events in Anthropic's order and the helper reassembles the same message", async ({ anthropic }) => {
    const request = { model: "galaxy-dev-echo", max_tokens: 100, messages: [{ role: "user" as const, content: "streaming works, right?" }] };
    const whole = await anthropic.messages.create(request);

    const events: string[] = [];
    let text = "";
    for await (const event of await anthropic.messages.create({ ...request, stream: true })) {
      events.push(event.type);
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
    }
    expect(events[0]).toBe("message_start");
    expect(events[1]).toBe("content_block_start");
    expect(events.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(events.filter((type) => type === "content_block_delta")).toHaveLength(countTokens(text));
    expect(text).toBe("echo: streaming works, right?");

    const final = await anthropic.messages.stream(request).finalMessage();
    expect(final.content).toEqual(whole.content);
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage.input_tokens).toBe(whole.usage.input_tokens);
    expect(final.usage.output_tokens).toBe(whole.usage.output_tokens);
  });

  test("stops at max_tokens", async ({ anthropic }) => {
    const message = await anthropic.messages.create({ model: "galaxy-dev-echo", max_tokens: 2, messages: [{ role: "user", content: "a b c" }] });
    expect(message.stop_reason).toBe("max_tokens");
    expect(message.content).toEqual([expect.objectContaining({ text: "echo:" })]);
  });

  test("runs a tool_use round with galaxy-dev-tools, streamed and not", async ({ anthropic }) => {
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "define galaxy" }];
    const first = await anthropic.messages.create({ model: "galaxy-dev-tools", max_tokens: 100, messages, tools: [lookup] });
    expect(first.stop_reason).toBe("tool_use");
    const toolUse = first.content[0];
    if (toolUse?.type !== "tool_use") throw new Error("expected a tool_use block");
    expect(toolUse).toMatchObject({ name: "lookup", input: { word: "define galaxy" } });
    expect(toolUse.id).toMatch(/^toolu_[0-9a-f]+$/);

    const streamed = await anthropic.messages.stream({ model: "galaxy-dev-tools", max_tokens: 100, messages, tools: [lookup] }).finalMessage();
    expect(streamed.content).toEqual([expect.objectContaining({ type: "tool_use", id: toolUse.id, name: "lookup", input: { word: "define galaxy" } })]);

    messages.push(
      { role: "assistant", content: first.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "a system of stars" }] },
    );
    const second = await anthropic.messages.create({ model: "galaxy-dev-tools", max_tokens: 100, messages, tools: [lookup] });
    expect(second.stop_reason).toBe("end_turn");
    expect(second.content).toEqual([expect.objectContaining({ type: "text", text: "echo: define galaxy (tool: a system of stars)" })]);
  });

  test("answers errors in Anthropic's shape", async ({ anthropic }) => {
    const notFound = await anthropic.messages
      .create({ model: "claude-nope", max_tokens: 10, messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(Anthropic.NotFoundError);
    if (notFound instanceof Anthropic.NotFoundError) expect(notFound.error).toMatchObject({ type: "error", error: { type: "not_found_error" } });

    const tooLong = await anthropic.messages.create({ model: "galaxy-dev-echo", max_tokens: 200_000, messages: [{ role: "user", content: "hi" }], stream: true }).catch((e: unknown) => e);
    expect(tooLong).toBeInstanceOf(Anthropic.BadRequestError);

    const badRequest = await anthropic.messages.create({ model: "galaxy-dev-echo", max_tokens: 0, messages: [] }).catch((e: unknown) => e);
    expect(badRequest).toBeInstanceOf(Anthropic.BadRequestError);
    if (badRequest instanceof Anthropic.BadRequestError) {
      expect(badRequest.error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    }
  });
});
