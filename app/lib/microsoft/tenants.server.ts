import { env } from "../env.server.ts";
import { microsoftFetch } from "./http.server.ts";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export type TenantInput = { kind: "id" | "domain"; value: string };

/** A tenant ID (GUID) or a tenant domain as typed by an admin; null when it is neither. */
export function parseTenantInput(raw: string): TenantInput | null {
  const value = raw.trim().toLowerCase();
  if (GUID.test(value)) return { kind: "id", value };
  if (DOMAIN.test(value)) return { kind: "domain", value };
  return null;
}

/**
 * The tenant ID behind an ID or a domain, read from the tenant's OpenID configuration (its issuer
 * names the tenant). Null when Microsoft knows no such tenant; throws MicrosoftUnavailableError.
 */
export async function resolveTenantId(input: TenantInput): Promise<string | null> {
  const url = `${env().ENTRA_AUTHORITY_HOST}/${encodeURIComponent(input.value)}/v2.0/.well-known/openid-configuration`;
  const response = await microsoftFetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    await response.body?.cancel();
    return null;
  }
  const config = (await response.json().catch(() => null)) as { issuer?: unknown } | null;
  const match = typeof config?.issuer === "string" ? config.issuer.match(/\/([0-9a-f-]{36})\/v2\.0\/?$/i) : null;
  const tenantId = match?.[1]?.toLowerCase();
  return tenantId && GUID.test(tenantId) ? tenantId : null;
}
