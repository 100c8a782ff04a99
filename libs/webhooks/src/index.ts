export * from "./standard-webhooks";
export * from "./outbound";
