// GET/POST /{tenant}/v2.0/adminconsent: an admin picks their account and accepts the app's permissions for the
// whole tenant; the browser goes back to the app with admin_consent=True, or access_denied.
import { clientRequest, listAccounts, pickAccount } from "./authorize.ts";
import { tenantsOf, type ConsentRequest, type Context } from "./context.ts";
import { readForm, redirect, sendHtml, withParams, type Req, type Res } from "./http.ts";
import { accountChooser, consentPage, errorPage, needAdminPage } from "./pages.ts";
import { APP_ROLES } from "./token.ts";
import { GRAPH_RESOURCE } from "./tokens.ts";

const PERMISSIONS: Record<string, string> = {
  "User.Read.All": "Read all users' full profiles",
  "GroupMember.Read.All": "Read all group memberships",
};

const declined = "AADSTS65004: User declined to consent to access the app.";

function action(request: ConsentRequest) {
  return `/${request.authority}/v2.0/adminconsent`;
}

/** The URL that starts this consent request over (the "sign in with an admin account" link). */
function restartUrl(ctx: Context, request: ConsentRequest): string {
  return withParams(`${ctx.baseUrl}${action(request)}`, {
    client_id: request.clientId,
    scope: request.scope,
    redirect_uri: request.redirectUri,
    state: request.state ?? undefined,
  });
}

function back(request: ConsentRequest, params: Record<string, string | undefined>): string {
  return withParams(request.redirectUri, { ...params, state: request.state ?? undefined });
}

function chooser(ctx: Context, requestId: string, request: ConsentRequest, error?: string) {
  return accountChooser({
    title: "Pick an account",
    subtitle: `to grant permissions to ${ctx.app.displayName} for your organization`,
    action: action(request),
    requestId,
    groups: listAccounts(tenantsOf(ctx, request.authority), null),
    hint: null,
    error,
  });
}

export function adminConsentGet(ctx: Context, res: Res, segment: string, url: URL) {
  const q = url.searchParams;
  const client = clientRequest(ctx, res, segment, q);
  if (!client) return;
  const request: ConsentRequest = {
    ...client,
    scope: q.get("scope") ?? `${GRAPH_RESOURCE}/.default`,
    state: q.get("state"),
    tenantId: null,
    oid: null,
  };
  const requestId = ctx.flows.consents.put(request);
  sendHtml(res, 200, chooser(ctx, requestId, request));
}

export async function adminConsentPost(ctx: Context, req: Req, res: Res) {
  const form = await readForm(req);
  const requestId = form.get("request") ?? "";
  const request = ctx.flows.consents.get(requestId);
  if (!request)
    return sendHtml(res, 400, errorPage("AADSTS90014", "This consent request is unknown or has expired. Go back to the application and start again."));

  if (form.get("action") === "cancel" || form.get("decision") === "cancel") {
    ctx.flows.consents.delete(requestId);
    return redirect(res, back(request, { error: "access_denied", error_description: declined }));
  }

  if (form.get("decision") === "accept") {
    const tenant = request.tenantId ? ctx.directory.tenant(request.tenantId) : undefined;
    const admin = request.oid ? tenant?.user(request.oid) : undefined;
    if (!tenant || !admin || admin.removed || !admin.isAdmin)
      return sendHtml(res, 200, chooser(ctx, requestId, request, "Pick an admin account of the organization first."));
    ctx.flows.consents.delete(requestId);
    if (ctx.faults.consentRefused) return redirect(res, back(request, { error: "access_denied", error_description: declined }));
    ctx.directory.grantConsent(tenant.id, request.clientId);
    return redirect(res, back(request, { admin_consent: "True", tenant: ctx.faults.callbackTenant ?? tenant.id, scope: request.scope }));
  }

  const picked = pickAccount(ctx, request.authority, form);
  if ("error" in picked) return sendHtml(res, 200, chooser(ctx, requestId, request, picked.error));
  if (!picked.user.isAdmin) {
    return sendHtml(
      res,
      200,
      needAdminPage({
        appName: ctx.app.displayName,
        user: picked.user,
        retryUrl: restartUrl(ctx, request),
        returnUrl: back(request, {
          error: "access_denied",
          error_description: `AADSTS90094: An administrator of ${picked.tenant.displayName} has not granted the permissions this app needs. Only an admin can grant them.`,
        }),
      }),
    );
  }
  request.tenantId = picked.tenant.id;
  request.oid = picked.user.oid;
  sendHtml(
    res,
    200,
    consentPage({
      action: action(request),
      requestId,
      appName: ctx.app.displayName,
      tenant: picked.tenant,
      user: picked.user,
      permissions: ["Sign in and read user profile", ...APP_ROLES.map((role) => PERMISSIONS[role] ?? role)],
    }),
  );
}
