export * from "./standard-webhooks";
export * from "./outbound";
export { isLinkLocalAddress, isPrivateAddress } from "./addresses";
