export { callbackHandler, RETIRED_CALLBACK_CONSUMER, runRetiredCallbackConsumer, scheduleCallback } from "./callbacks.consumer";
export { CallbackOrders, type CallbackOrder } from "./callback-orders";
export { CallbackDispatcher } from "./dispatcher";
export { DeliveriesService } from "./deliveries.service";
export { NotifyUrls } from "./notify-urls";
export { callbackSettingsFromEnv, DEFAULT_CALLBACK_SETTINGS, retryDelayMs, CallbackEnv } from "./config";
export type { CallbackConfig, CallbackSettings } from "./config";
