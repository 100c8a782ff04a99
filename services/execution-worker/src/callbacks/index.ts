export { CALLBACK_CONSUMER, CALLBACK_EVENTS, callbackHandler, scheduleCallback } from "./callbacks.consumer";
export { CallbackDispatcher } from "./dispatcher";
export { DeliveriesService } from "./deliveries.service";
export { callbackSettingsFromEnv, DEFAULT_CALLBACK_SETTINGS, retryDelayMs, CallbackEnv } from "./config";
export type { CallbackConfig, CallbackSettings } from "./config";
