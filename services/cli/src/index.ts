export { runCli, EXIT } from "./program";
export type { CliIo } from "./program";
export { CliEnv, CLI_SERVICE, connectCli, parseCliEnv, CliFailure, CliUsageError } from "./config";
export { grantSystemAdmin } from "./commands/admin";
export { listKeys, rotateKeys, revokeKey } from "./commands/keys";
export { setTier, showTier } from "./commands/tiers";
