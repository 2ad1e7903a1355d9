// GET/POST /{tenant}/oauth2/v2.0/authorize: the sign-in page. Choosing an account sends the browser back to
// the app with a single-use code bound to the client, redirect URI, PKCE challenge and nonce.
import { allowedRedirect, knownClient, resolveAuthority, tenantsOf, type Context, type SignInRequest } from "./context.ts";
import type { DirectoryUser, Tenant } from "./directory.ts";
import { readForm, redirect, sendHtml, withParams, type Req, type Res } from "./http.ts";
import { accountChooser, errorPage, formPostPage, type AccountGroup } from "./pages.ts";

const LISTED_PER_TENANT = 20;

type Delivery = Pick<SignInRequest, "redirectUri" | "responseMode">;

/** Sends the browser back to the app with `params`, the way the request's response_mode asks. */
export function deliver(res: Res, to: Delivery, params: Record<string, string | undefined>) {
  if (to.responseMode === "form_post") {
    const fields = Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
    return sendHtml(res, 200, formPostPage(to.redirectUri, fields));
  }
  redirect(res, withParams(to.redirectUri, params, to.responseMode === "fragment"));
}

function authorizeError(res: Res, to: Delivery, state: string | null, error: string, description: string) {
  deliver(res, to, { error, error_description: description, state: state ?? undefined });
}

/** Enabled accounts to list: the tenant's, or every tenant's for organizations/common (narrowed by domain_hint). */
function accountGroups(ctx: Context, request: SignInRequest): AccountGroup[] {
  let tenants = tenantsOf(ctx, request.authority);
  const hinted = request.domainHint ? ctx.directory.tenant(request.domainHint) : undefined;
  if (hinted && tenants.includes(hinted)) tenants = [hinted];
  return listAccounts(tenants, request.loginHint);
}

/** The first enabled accounts of each tenant (the hinted one first), and how many more there are. */
export function listAccounts(tenants: Tenant[], loginHint: string | null): AccountGroup[] {
  return tenants.map((tenant) => {
    const users: DirectoryUser[] = [];
    let more = 0;
    for (const user of tenant.liveUsers()) {
      if (!user.accountEnabled) continue;
      if (users.length < LISTED_PER_TENANT) users.push(user);
      else more++;
    }
    const hint = loginHint?.toLowerCase();
    const first = users.findIndex((u) => u.userPrincipalName.toLowerCase() === hint || u.mail?.toLowerCase() === hint);
    if (first > 0) users.unshift(...users.splice(first, 1));
    return { tenant, users, more };
  });
}

function chooser(ctx: Context, requestId: string, request: SignInRequest, error?: string) {
  return accountChooser({
    title: "Pick an account",
    subtitle: `to continue to ${ctx.app.displayName}`,
    action: `/${request.authority}/oauth2/v2.0/authorize`,
    requestId,
    groups: accountGroups(ctx, request),
    hint: request.loginHint,
    error,
  });
}

/**
 * What Entra checks before it may send the browser back (authorize, admin consent): the tenant, the client
 * and the redirect URI. On failure it answers with its own error page and this returns null.
 */
export function clientRequest(
  ctx: Context,
  res: Res,
  segment: string,
  q: URLSearchParams,
): { authority: string; clientId: string; redirectUri: string } | null {
  const authority = resolveAuthority(ctx, segment);
  if (authority.kind === "unknown") return (void sendHtml(res, 400, errorPage("AADSTS90002", `Tenant '${authority.name}' not found.`)), null);
  const clientId = q.get("client_id");
  if (!knownClient(ctx, clientId)) {
    return (void sendHtml(res, 400, errorPage("AADSTS700016", `Application with identifier '${clientId ?? ""}' was not found in the directory.`)), null);
  }
  const redirectUri = q.get("redirect_uri");
  if (!allowedRedirect(ctx, redirectUri)) {
    return (
      void sendHtml(
        res,
        400,
        errorPage(
          "AADSTS50011",
          `The redirect URI '${redirectUri ?? ""}' specified in the request does not match the redirect URIs configured for the application '${clientId}'.`,
        ),
      ),
      null
    );
  }
  return { authority: authority.kind === "tenant" ? authority.tenant.id : authority.name, clientId: clientId!, redirectUri: redirectUri! };
}

export function authorizeGet(ctx: Context, req: Req, res: Res, segment: string, url: URL) {
  const q = url.searchParams;
  const client = clientRequest(ctx, res, segment, q);
  if (!client) return;
  const { clientId, redirectUri } = client;
  const mode = q.get("response_mode") ?? "query";
  const to: Delivery = { redirectUri, responseMode: mode === "form_post" || mode === "fragment" ? mode : "query" };
  const state = q.get("state");
  if (q.get("response_type") !== "code") {
    return authorizeError(
      res,
      to,
      state,
      "unsupported_response_type",
      `AADSTS700054: response_type '${q.get("response_type") ?? ""}' is not enabled for the application.`,
    );
  }
  for (const name of ["state", "nonce", "code_challenge"]) {
    if (!q.get(name))
      return authorizeError(res, to, state, "invalid_request", `AADSTS900144: The request body must contain the following parameter: '${name}'.`);
  }
  if (q.get("code_challenge_method") !== "S256") {
    return authorizeError(res, to, state, "invalid_request", "AADSTS501491: The code_challenge_method must be S256.");
  }
  if (q.get("prompt") === "none") {
    return authorizeError(res, to, state, "login_required", "AADSTS50058: A silent sign-in request was sent but no user is signed in.");
  }
  const request: SignInRequest = {
    authority: client.authority,
    clientId,
    redirectUri: to.redirectUri,
    responseMode: to.responseMode,
    state: state!,
    nonce: q.get("nonce")!,
    codeChallenge: q.get("code_challenge")!,
    scope: (q.get("scope") ?? "").split(" ").filter(Boolean),
    loginHint: q.get("login_hint"),
    domainHint: q.get("domain_hint"),
    prompt: q.get("prompt"),
    maxAge: /^\d{1,9}$/.test(q.get("max_age") ?? "") ? Number(q.get("max_age")) : null,
  };
  const requestId = ctx.flows.signIns.put(request);
  sendHtml(res, 200, chooser(ctx, requestId, request));
}

/** The chosen account among the tenants this request may sign in, or the sentence Entra would show. */
export function pickAccount(ctx: Context, authority: string, form: URLSearchParams): { tenant: Tenant; user: DirectoryUser } | { error: string } {
  const tenants = tenantsOf(ctx, authority);
  const oid = form.get("account");
  const login = form.get("login")?.trim();
  for (const tenant of tenants) {
    const user = oid ? tenant.user(oid) : login ? tenant.findUser(login) : undefined;
    if (!user || user.removed) continue;
    if (!user.accountEnabled)
      return { error: "AADSTS50057: User account is disabled. Your account has been locked; contact your support person to unlock it, then try again." };
    return { tenant, user };
  }
  return { error: "AADSTS50034: We couldn't find an account with that username. Try another, or get a new Microsoft account." };
}

export async function authorizePost(ctx: Context, req: Req, res: Res) {
  const form = await readForm(req);
  const requestId = form.get("request") ?? "";
  const request = ctx.flows.signIns.get(requestId);
  if (!request)
    return sendHtml(res, 400, errorPage("AADSTS90014", "This sign-in request is unknown or has expired. Go back to the application and start again."));
  if (form.get("action") === "cancel") {
    ctx.flows.signIns.delete(requestId);
    return deliver(res, request, {
      error: "access_denied",
      error_subcode: "cancel",
      error_description: "AADSTS50126: The user cancelled signing in.",
      state: request.state,
    });
  }
  const picked = pickAccount(ctx, request.authority, form);
  if ("error" in picked) return sendHtml(res, 200, chooser(ctx, requestId, request, picked.error));
  ctx.flows.signIns.delete(requestId);
  const code = ctx.flows.codes.put({
    tenantId: picked.tenant.id,
    oid: picked.user.oid,
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    nonce: request.nonce,
    scope: request.scope,
    issuedAt: Math.floor(Date.now() / 1000),
    authTime: ctx.faults.authTimeFor(request),
    redeemed: false,
  });
  deliver(res, request, { code, state: request.state, session_state: picked.user.oid.slice(0, 8) });
}
