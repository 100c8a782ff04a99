import { randomBytes } from "node:crypto";

/** A W3C traceparent as a caller outside Galaxy (a browser, a proxy) would send one. */
export function incomingTraceparent(): string {
  return `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
}
