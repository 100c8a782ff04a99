import { GalaxyError } from "@galaxy/contracts";

/** Replays and dead letters are for operators: an operator claim of the system workspace (docs/replay.md). */
export class OperatorRequiredError extends GalaxyError {
  constructor() {
    super(403, "system_admin_required", "Only system admins and the operator CLI may replay events or handle dead letters");
    this.name = "OperatorRequiredError";
  }
}
