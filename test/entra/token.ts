// POST /{tenant}/oauth2/v2.0/token: authorization code (+ PKCE), refresh token and client credentials, with
// client-secret authentication, answering successes and failures in Entra's JSON shapes.
import { createHash, timingSafeEqual } from "node:crypto";
import { resolveAuthority, type Authority, type Context, type RefreshGrant } from "./context.ts";
import type { DirectoryUser, Tenant } from "./directory.ts";
import { entraError, readForm, sendJson, type EntraErrorInit, type Req, type Res } from "./http.ts";
import { unknownTenant } from "./oidc.ts";
import { directoryRolesOf, ROLE } from "./fixture.ts";
import { GRAPH_RESOURCE } from "./tokens.ts";

/** The application permissions the stand-in's app asks for; admin consent grants them. */
export const APP_ROLES = ["User.Read.All", "GroupMember.Read.All"];

const LIFETIME_SECONDS = 3599;
const OIDC_SCOPES = ["openid", "profile", "email", "offline_access"];

type Fail = (status: number, init: EntraErrorInit) => void;

const sha256 = (value: string) => createHash("sha256").update(value).digest();

function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

/** The client ID after checking the secret (form body or HTTP Basic), or null once the error is sent. */
function authenticateClient(ctx: Context, req: Req, form: URLSearchParams, fail: Fail): string | null {
  let clientId = form.get("client_id");
  let secret = form.get("client_secret");
  const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  if (basic) {
    const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    try {
      if (colon < 1) throw new Error("no client ID");
      const basicId = decodeURIComponent(decoded.slice(0, colon));
      if (clientId && basicId !== clientId) {
        fail(401, {
          error: "invalid_client",
          code: 7000215,
          description: "The client_id in the Authorization header does not match the one in the request body.",
        });
        return null;
      }
      clientId = basicId;
      secret = decodeURIComponent(decoded.slice(colon + 1));
    } catch {
      fail(401, { error: "invalid_client", code: 7000215, description: "The Authorization header is malformed." });
      return null;
    }
  }
  if (!clientId) {
    fail(400, { error: "invalid_request", code: 900144, description: "The request body must contain the following parameter: 'client_id'." });
    return null;
  }
  if (clientId.toLowerCase() !== ctx.app.clientId.toLowerCase()) {
    fail(400, { error: "unauthorized_client", code: 700016, description: `Application with identifier '${clientId}' was not found in the directory.` });
    return null;
  }
  if (!secret) {
    fail(401, {
      error: "invalid_client",
      code: 7000218,
      description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    });
    return null;
  }
  if (!sameSecret(secret, ctx.app.clientSecret)) {
    fail(401, {
      error: "invalid_client",
      code: 7000215,
      description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${ctx.app.clientId}'.`,
    });
    return null;
  }
  return ctx.app.clientId;
}

/** Whether a token for `tenantId` may be issued through the path's authority. */
function reachable(authority: Authority, tenantId: string): boolean {
  return authority.kind === "multi" || (authority.kind === "tenant" && authority.tenant.id === tenantId);
}

/** The user a grant was made for, if they may still sign in; otherwise the error is sent. */
function liveUser(tenant: Tenant | undefined, oid: string, fail: Fail): DirectoryUser | null {
  const user = tenant?.user(oid);
  if (!user || user.removed) {
    fail(400, {
      error: "invalid_grant",
      code: 50034,
      description: "The user account does not exist in the directory. To sign into this application, the account must be added to the directory.",
    });
    return null;
  }
  if (!user.accountEnabled) {
    fail(400, { error: "invalid_grant", code: 50057, description: "The user account is disabled." });
    return null;
  }
  return user;
}

/** Graph scopes of a delegated request (Graph's default "User.Read" when only OpenID scopes were asked for). */
function resourceScopes(ctx: Context, scopes: string[]): string[] {
  const prefixes = [`${GRAPH_RESOURCE}/`, `${ctx.baseUrl}/`];
  const graph = scopes
    .filter((s) => !OIDC_SCOPES.includes(s))
    .map((s) => prefixes.reduce((scope, prefix) => (scope.toLowerCase().startsWith(prefix.toLowerCase()) ? scope.slice(prefix.length) : scope), s));
  return graph.length ? graph : ["User.Read"];
}

async function userTokens(ctx: Context, res: Res, grant: RefreshGrant, user: DirectoryUser, nonce: string | null) {
  const graphScopes = resourceScopes(ctx, grant.scope);
  const granted = [...grant.scope.filter((s) => OIDC_SCOPES.includes(s) && s !== "offline_access"), ...graphScopes];
  const body: Record<string, unknown> = {
    token_type: "Bearer",
    scope: granted.join(" "),
    expires_in: LIFETIME_SECONDS,
    ext_expires_in: LIFETIME_SECONDS,
    access_token: await ctx.tokens.delegatedToken(grant.tenantId, user, { clientId: grant.clientId, scp: graphScopes.join(" ") }),
  };
  if (grant.scope.includes("offline_access")) body.refresh_token = ctx.flows.refreshTokens.put({ ...grant });
  if (grant.scope.includes("openid")) {
    // Entra adds `wids` (the user's tenant-wide directory roles, and the default user role) only when the app
    // registration's groupMembershipClaims includes directory roles.
    const claims = ctx.app.groupMembershipClaims;
    const wids = claims === "DirectoryRole" || claims === "All" ? [...directoryRolesOf(user), ROLE.defaultUser] : undefined;
    body.id_token = await ctx.tokens.idToken(grant.tenantId, user, { clientId: grant.clientId, nonce, scopes: grant.scope, authTime: grant.authTime, wids });
  }
  body.client_info = Buffer.from(JSON.stringify({ uid: user.oid, utid: grant.tenantId })).toString("base64url");
  sendJson(res, 200, body);
}

async function authorizationCode(ctx: Context, res: Res, authority: Authority, clientId: string, form: URLSearchParams, fail: Fail) {
  const code = form.get("code");
  if (!code) return fail(400, { error: "invalid_request", code: 900144, description: "The request body must contain the following parameter: 'code'." });
  const grant = ctx.flows.codes.get(code);
  if (!grant) {
    return fail(400, {
      error: "invalid_grant",
      code: 70008,
      description:
        "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
    });
  }
  if (grant.redeemed) {
    return fail(400, {
      error: "invalid_grant",
      code: 54005,
      description: "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
    });
  }
  // Any attempt past client authentication uses the code up, so that a failed attempt cannot be retried.
  grant.redeemed = true;
  if (grant.clientId.toLowerCase() !== clientId.toLowerCase()) {
    return fail(400, { error: "invalid_grant", code: 70000, description: "The provided authorization code was issued to a different client." });
  }
  if (!reachable(authority, grant.tenantId)) {
    return fail(400, {
      error: "invalid_grant",
      code: 700005,
      description: "Provided Authorization Code is intended to use against other tenant, thus rejected.",
    });
  }
  const redirectUri = form.get("redirect_uri");
  if (redirectUri !== grant.redirectUri) {
    return fail(400, {
      error: "invalid_grant",
      code: 500112,
      description: `The reply address '${redirectUri ?? ""}' does not match the reply address '${grant.redirectUri}' provided when requesting Authorization code.`,
    });
  }
  const verifier = form.get("code_verifier") ?? "";
  if (sha256(verifier).toString("base64url") !== grant.codeChallenge) {
    return fail(400, {
      error: "invalid_grant",
      code: 501481,
      description: "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    });
  }
  const user = liveUser(ctx.directory.tenant(grant.tenantId), grant.oid, fail);
  if (!user) return;
  await userTokens(
    ctx,
    res,
    { tenantId: grant.tenantId, oid: grant.oid, clientId: grant.clientId, scope: grant.scope, authTime: grant.authTime },
    user,
    grant.nonce,
  );
}

async function refreshToken(ctx: Context, res: Res, authority: Authority, clientId: string, form: URLSearchParams, fail: Fail) {
  const token = form.get("refresh_token");
  if (!token)
    return fail(400, { error: "invalid_request", code: 900144, description: "The request body must contain the following parameter: 'refresh_token'." });
  const grant = ctx.flows.refreshTokens.get(token);
  if (!grant) {
    return fail(400, {
      error: "invalid_grant",
      code: 70008,
      description:
        "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
    });
  }
  if (grant.clientId.toLowerCase() !== clientId.toLowerCase()) {
    return fail(400, { error: "invalid_grant", code: 70000, description: "The provided refresh token was issued to a different client." });
  }
  if (!reachable(authority, grant.tenantId)) {
    return fail(400, { error: "invalid_grant", code: 700005, description: "Provided refresh token is intended to use against other tenant, thus rejected." });
  }
  const user = liveUser(ctx.directory.tenant(grant.tenantId), grant.oid, fail);
  if (!user) return;
  await userTokens(ctx, res, grant, user, null);
}

/** The resource of a client-credentials scope if it is Graph's `/.default` (Microsoft's or the stand-in's). */
function graphAudience(ctx: Context, scope: string): string | null {
  const match = /^(.*?)\/?\.default$/i.exec(scope);
  if (!match) return null;
  const resource = match[1]!.toLowerCase().replace(/\/$/, "");
  if (resource === GRAPH_RESOURCE) return GRAPH_RESOURCE;
  if (resource === ctx.baseUrl.toLowerCase()) return ctx.baseUrl;
  return null;
}

async function clientCredentials(ctx: Context, res: Res, authority: Authority, clientId: string, form: URLSearchParams, fail: Fail) {
  if (authority.kind !== "tenant") {
    return fail(400, {
      error: "invalid_request",
      code: 1002012,
      description: `The client credentials grant needs a tenant-specific endpoint: '${authority.name}' does not name a tenant. Use /{tenant-id}/oauth2/v2.0/token.`,
    });
  }
  const scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
  if (!scopes.length)
    return fail(400, { error: "invalid_request", code: 900144, description: "The request body must contain the following parameter: 'scope'." });
  if (scopes.length !== 1 || !scopes[0]!.toLowerCase().endsWith("/.default")) {
    return fail(400, {
      error: "invalid_scope",
      code: 1002012,
      description: `The provided value for scope ${scopes.join(" ")} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    });
  }
  const audience = graphAudience(ctx, scopes[0]!);
  const tenant = authority.tenant;
  if (!audience) {
    return fail(400, {
      error: "invalid_resource",
      code: 500011,
      description: `The resource principal named ${scopes[0]!.replace(/\/?\.default$/i, "")} was not found in the tenant named ${tenant.displayName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    });
  }
  if (!tenant.consents.has(clientId)) {
    return fail(400, {
      error: "invalid_client",
      code: 7000229,
      description: `The client application ${clientId} is missing service principal in the tenant ${tenant.id}. The user or administrator has not consented to use the application with ID '${clientId}' named '${ctx.app.displayName}'. Send an interactive authorization request for this user and resource.`,
    });
  }
  sendJson(res, 200, {
    token_type: "Bearer",
    expires_in: LIFETIME_SECONDS,
    ext_expires_in: LIFETIME_SECONDS,
    // The application permissions granted in the tenant: all the app asks for, unless a test granted fewer.
    access_token: await ctx.tokens.appToken(tenant.id, { clientId, roles: ctx.faults.grantedRolesFor(tenant.id) ?? APP_ROLES, audience }),
  });
}

export async function token(ctx: Context, req: Req, res: Res, segment: string) {
  const fail: Fail = (status, init) => entraError(req, res, status, init);
  const authority = resolveAuthority(ctx, segment);
  if (authority.kind === "unknown") return unknownTenant(req, res, authority.name);
  const form = await readForm(req);
  const grantType = form.get("grant_type");
  if (!grantType)
    return fail(400, { error: "invalid_request", code: 900144, description: "The request body must contain the following parameter: 'grant_type'." });
  if (!["authorization_code", "refresh_token", "client_credentials"].includes(grantType)) {
    return fail(400, { error: "unsupported_grant_type", code: 70003, description: `The app requested an unsupported grant type '${grantType}'.` });
  }
  const clientId = authenticateClient(ctx, req, form, fail);
  if (!clientId) return;
  if (grantType === "authorization_code") return authorizationCode(ctx, res, authority, clientId, form, fail);
  if (grantType === "refresh_token") return refreshToken(ctx, res, authority, clientId, form, fail);
  return clientCredentials(ctx, res, authority, clientId, form, fail);
}
