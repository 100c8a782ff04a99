export { runBusService } from "./run-bus-service";
export type { BusServiceDeps, BusServiceOptions, BuiltService } from "./run-bus-service";
export { loadOnFirstUse } from "./load-on-first-use";
