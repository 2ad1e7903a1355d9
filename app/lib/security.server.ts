/** A redirect target from input, accepted only when it is a path on this site. */
export function safeRedirectPath(target: unknown, fallback = "/"): string {
  if (typeof target !== "string" || target.length === 0 || target.length > 2048) return fallback;
  // "//host", "/\host" and control characters would leave the site in some browsers.
  if (!target.startsWith("/") || target.startsWith("//") || target.startsWith("/\\") || /[\u0000-\u001f\\]/.test(target)) {
    return fallback;
  }
  try {
    const url = new URL(target, "http://local.invalid");
    if (url.origin !== "http://local.invalid") return fallback;
    return url.pathname + url.search + url.hash;
  } catch {
    return fallback;
  }
}

/**
 * Whether a state-changing request comes from another site. Browsers send Origin on every POST;
 * Sec-Fetch-Site covers the rare ones that send "null" or nothing.
 */
export function isCrossSiteRequest(request: Request, appOrigin: string): boolean {
  if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") return false;
  const origin = request.headers.get("Origin");
  if (origin && origin !== "null") return origin !== appOrigin;
  const site = request.headers.get("Sec-Fetch-Site");
  if (site) return site !== "same-origin" && site !== "none";
  return origin === "null";
}
