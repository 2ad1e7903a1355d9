// Admin consent: send the admin to Microsoft, and on return confirm it by getting an app-only token for
// the tenant we expected. The callback's `tenant` parameter is never trusted.
import { env } from "../env.server.ts";
import { clientId, consentRedirectUri, graphScope, msalFor } from "./config.server.ts";
import { MicrosoftUnavailableError, microsoftFetch } from "./http.server.ts";

export function adminConsentUrl(tenantId: string, state: string): string {
  const url = new URL(`${env().ENTRA_AUTHORITY_HOST}/${tenantId}/v2.0/adminconsent`);
  url.searchParams.set("client_id", clientId());
  url.searchParams.set("scope", graphScope());
  url.searchParams.set("redirect_uri", consentRedirectUri());
  url.searchParams.set("state", state);
  return url.toString();
}

export type AppTokenResult =
  { kind: "ok"; accessToken: string; roles: string[] } | { kind: "refused"; message: string } | { kind: "unavailable"; message: string };

/**
 * The application permissions an app-only token carries (its `roles` claim). Read, not verified: the token
 * came straight from Microsoft's token endpoint, and Graph verifies it; this only names what is missing.
 */
export function rolesOf(accessToken: string): string[] {
  try {
    const body = JSON.parse(Buffer.from(accessToken.split(".")[1] ?? "", "base64url").toString("utf8")) as { roles?: unknown };
    return Array.isArray(body.roles) ? body.roles.filter((r): r is string => typeof r === "string").slice(0, 200) : [];
  } catch {
    return [];
  }
}

function isUnavailable(error: unknown): boolean {
  for (let e = error as { cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e instanceof MicrosoftUnavailableError) return true;
  }
  const code = (error as { errorCode?: string }).errorCode ?? "";
  return /network|timed_out|endpoints_resolution|openid_config/i.test(code);
}

/**
 * An app-only Graph token for the tenant: proof that consent was granted there. `fromCache` lets MSAL
 * hand back a token it still holds (directory sync asks for one per page; consent must ask Microsoft).
 */
export async function appToken(tenantId: string, options: { fromCache?: boolean } = {}): Promise<AppTokenResult> {
  try {
    const result = await msalFor(tenantId).acquireTokenByClientCredential({ scopes: [graphScope()], skipCache: !options.fromCache });
    if (!result?.accessToken) return { kind: "refused", message: "Microsoft returned no token." };
    return { kind: "ok", accessToken: result.accessToken, roles: rolesOf(result.accessToken) };
  } catch (error) {
    const message = (error as { errorMessage?: string; message?: string }).errorMessage || (error as Error).message;
    if (isUnavailable(error)) return { kind: "unavailable", message };
    return { kind: "refused", message: message.split("\n")[0]!.slice(0, 500) };
  }
}

/** The tenant's display name from Graph, when the token may read it. */
export async function tenantDisplayName(accessToken: string): Promise<string | null> {
  try {
    const response = await microsoftFetch(`${env().GRAPH_BASE_URL}/v1.0/organization?$select=id,displayName`, {
      headers: { Authorization: `Bearer ${accessToken}`, Accept: "application/json" },
    });
    if (!response.ok) return null;
    const body = (await response.json()) as { value?: { displayName?: unknown }[] };
    const name = body.value?.[0]?.displayName;
    return typeof name === "string" ? name.slice(0, 200) : null;
  } catch {
    return null;
  }
}
