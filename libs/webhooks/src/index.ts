export * from "./standard-webhooks";
