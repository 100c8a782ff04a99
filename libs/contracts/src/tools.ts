import { z } from "zod";
import { Uuid } from "./ids";

/** A webhook tool's signing secret: `whsec_` and 32 bytes, base64 (Standard Webhooks). */
export const ToolSecret = z.string().regex(/^whsec_[A-Za-z0-9+/]+=*$/);
export type ToolSecret = z.infer<typeof ToolSecret>;

/** `execution.tools.secret`: the secret Galaxy signs an agent's webhook tool calls with (admins only). */
export const ToolSecretRequest = z.object({ agentId: Uuid }).strict();
export type ToolSecretRequest = z.infer<typeof ToolSecretRequest>;

export const ToolSecretReply = z.object({ agentId: Uuid, secret: ToolSecret });
export type ToolSecretReply = z.infer<typeof ToolSecretReply>;
