// OpenID discovery, the key set and sign-out, shaped like Entra's v2.0 endpoints.
import { resolveAuthority, type Authority, type Context } from "./context.ts";
import { entraError, redirect, sendHtml, sendJson, type Req, type Res } from "./http.ts";
import { signedOutPage } from "./pages.ts";

/** Entra answers an unknown tenant with 400 invalid_tenant (AADSTS90002). */
export function unknownTenant(req: Req, res: Res, name: string) {
  entraError(req, res, 400, {
    error: "invalid_tenant",
    code: 90002,
    description: `Tenant '${name}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  });
}

/** Endpoints carry the tenant ID (domains resolve to it); organizations/common keep their name, like Entra. */
export function openIdConfiguration(ctx: Context, authority: Exclude<Authority, { kind: "unknown" }>) {
  const segment = authority.kind === "tenant" ? authority.tenant.id : authority.name;
  const base = `${ctx.baseUrl}/${segment}`;
  return {
    issuer: authority.kind === "tenant" ? ctx.tokens.issuer(authority.tenant.id) : `${ctx.baseUrl}/{tenantid}/v2.0`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    token_endpoint: `${base}/oauth2/v2.0/token`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    jwks_uri: `${base}/discovery/v2.0/keys`,
    userinfo_endpoint: `${ctx.baseUrl}/oidc/userinfo`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    response_modes_supported: ["query", "fragment", "form_post"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    code_challenge_methods_supported: ["S256"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    claims_supported: [
      "sub",
      "iss",
      "cloud_instance_name",
      "cloud_instance_host_name",
      "cloud_graph_host_name",
      "msgraph_host",
      "aud",
      "exp",
      "iat",
      "auth_time",
      "acr",
      "nonce",
      "preferred_username",
      "name",
      "tid",
      "ver",
      "at_hash",
      "c_hash",
      "email",
    ],
    request_uri_parameter_supported: false,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    tenant_region_scope: "EU",
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: new URL(ctx.baseUrl).host,
    rbac_url: "https://pas.windows.net",
  };
}

export function discovery(ctx: Context, req: Req, res: Res, segment: string) {
  const authority = resolveAuthority(ctx, segment);
  if (authority.kind === "unknown") return unknownTenant(req, res, authority.name);
  sendJson(res, 200, openIdConfiguration(ctx, authority), { "Cache-Control": "max-age=86400, private" });
}

export function keys(ctx: Context, req: Req, res: Res, segment: string) {
  const authority = resolveAuthority(ctx, segment);
  if (authority.kind === "unknown") return unknownTenant(req, res, authority.name);
  sendJson(res, 200, ctx.tokens.jwks({ withoutSigningKey: ctx.faults.jwksWithoutKey }), { "Cache-Control": "max-age=86400, private" });
}

/** Sign-out: nothing to end (the stand-in keeps no session); back to the app when it says where. */
export function logout(res: Res, url: URL) {
  const back = url.searchParams.get("post_logout_redirect_uri");
  if (back && /^https?:\/\//.test(back)) return redirect(res, back);
  sendHtml(res, 200, signedOutPage(null));
}
