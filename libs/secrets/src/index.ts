export { SecretBox, parsePreviousMasterKeys } from "./secret-box";
