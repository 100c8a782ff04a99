/**
 * What the console reads from its own access token: only whether to show the operator pages
 * (`sa`, system admin). The API checks every call itself; this only hides links it would refuse.
 */
export function isSystemAdmin(accessToken: string): boolean {
  const payload = accessToken.split(".")[1];
  if (!payload) return false;
  try {
    const json = atob(payload.replaceAll("-", "+").replaceAll("_", "/").padEnd(Math.ceil(payload.length / 4) * 4, "="));
    const claims = JSON.parse(json) as { sa?: unknown };
    return claims.sa === true;
  } catch {
    return false;
  }
}
