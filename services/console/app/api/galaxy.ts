import { GalaxyClient } from "./client";
import { sessionStore } from "../session/session";

/** The console's one client: same origin as the page, the session's token, signed out on a 401. */
export const galaxy = new GalaxyClient({
  baseUrl: "",
  token: () => sessionStore.get()?.accessToken ?? null,
  onUnauthorized: () => sessionStore.set(null),
});
