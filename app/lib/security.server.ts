// Checks at the edge of the app: where a redirect may lead, and whether a form comes from this site.

const BASE = "http://local.invalid";

/**
 * A redirect target from input, accepted only when it is a path on this site. The check is made on what the URL
 * parser makes of the target, because that is what a browser follows: dot segments (also percent-encoded) and
 * stripped tabs or newlines can turn "/.//host" into "//host", which leaves the site.
 */
export function safeRedirectPath(target: unknown, fallback = "/"): string {
  if (typeof target !== "string" || target.length === 0 || target.length > 2048) return fallback;
  // A path of this site never has control characters or backslashes, and starts with one "/".
  if (!target.startsWith("/") || /[\u0000-\u001f\u007f\\]/.test(target)) return fallback;
  let url: URL;
  try {
    url = new URL(target, BASE);
  } catch {
    return fallback;
  }
  const path = url.pathname + url.search + url.hash;
  return url.origin === BASE && isSameSitePath(path) ? path : fallback;
}

/** "/x…", not "//host" or "/\host" (browsers read "\" as "/"). */
const isSameSitePath = (path: string) => path.startsWith("/") && !path.startsWith("//") && !path.startsWith("/\\");

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Whether a state-changing request may not be acted on: it comes from another site, or says nothing of where it
 * comes from. Browsers send Origin on every POST; "null" (a sandboxed frame, a redirect from elsewhere) is not this
 * site. Sec-Fetch-Site answers for a client that sends no Origin. A request with neither is refused: a Referer alone
 * proves nothing, and programs that post to the portal send Origin as well.
 */
export function isCrossSiteRequest(request: { method: string; headers: Headers }, appOrigin: string): boolean {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return false;
  const origin = request.headers.get("Origin");
  if (origin) return origin !== appOrigin;
  const site = request.headers.get("Sec-Fetch-Site");
  if (site) return site !== "same-origin" && site !== "none";
  return true;
}
