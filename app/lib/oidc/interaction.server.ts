// The hand-off between the provider and the portal's own sign-in: the provider sends the browser to
// /oidc/interaction/{uid}; signed in to the portal (and recently enough when the app asks for prompt=login or
// max_age), the login is finished at once with the portal user; otherwise the portal's pages run and come back
// through /apps/continue (a page, so that the redirects to the app never follow a form's POST).
import type { IncomingMessage, ServerResponse } from "node:http";
import { errors, type InteractionResults } from "oidc-provider";
import { amrOf, oidcProvider, portalSessionOf, SCOPES } from "./provider.server.ts";
import { page, sentence } from "./pages.server.ts";
import { continuePath } from "./paths.ts";

function answer(res: ServerResponse, status: number, html: string) {
  res.statusCode = status;
  res.setHeader("Content-Type", "text/html; charset=utf-8");
  res.setHeader("Cache-Control", "no-store");
  res.end(html);
}

function redirect(res: ServerResponse, location: string) {
  res.statusCode = 303;
  res.setHeader("Location", location);
  res.setHeader("Cache-Control", "no-store");
  res.end();
}

type Stored = { portal?: { since?: number } };

export async function handleInteraction(req: IncomingMessage, res: ServerResponse) {
  const provider = oidcProvider();
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (error) {
    // Only "no such interaction for this browser": a database outage is not an expired sign-in.
    if (!(error instanceof errors.SessionNotFound)) throw error;
    return answer(
      res,
      400,
      page(
        "This sign-in has ended",
        sentence("The app's sign-in request has expired, or was started in another browser. Go back to the app and sign in again.") +
          `<p><a href="/">Go to the portal</a></p>`,
      ),
    );
  }
  const { uid, prompt, params } = details;
  const back = continuePath(uid);

  // The moment from which a sign-in counts, when the app wants a fresh one: prompt=login asks for a sign-in after
  // it asked (kept in the interaction at its first visit here), max_age for one within that many seconds.
  let since: number | undefined = (details.result as Stored | undefined)?.portal?.since;
  const promptLogin = String(params.prompt ?? "")
    .split(" ")
    .includes("login");
  if (promptLogin && since === undefined) {
    since = Date.now();
    await provider.interactionResult(req, res, { portal: { since } } as InteractionResults, { mergeWithLastSubmission: false });
  }
  const maxAge = typeof params.max_age === "number" || typeof params.max_age === "string" ? Number(params.max_age) : NaN;
  if (Number.isFinite(maxAge) && maxAge >= 0) since = Math.max(since ?? 0, Date.now() - maxAge * 1000);

  const session = await portalSessionOf(req.headers.cookie);
  if (!session) return redirect(res, `/login?redirectTo=${encodeURIComponent(back)}`);
  const authenticatedAt = (session.authenticatedAt ?? session.createdAt).getTime();
  if (prompt.name === "login" && since !== undefined && authenticatedAt < since) {
    return redirect(res, `/settings/confirm?since=${since}&redirectTo=${encodeURIComponent(back)}`);
  }

  const otherUser = details.session !== undefined && details.session.accountId !== session.userId;
  if (otherUser) await forgetProviderSession(details.uid, details.session!.cookie);
  if (prompt.name === "login" || otherUser) {
    const login = { accountId: session.userId, amr: amrOf(session.authMethod), ts: Math.floor(authenticatedAt / 1000), remember: false };
    return provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
  }
  // Every registered app is first-party: whatever it asks of the user's own data is granted without a page.
  const grant =
    (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ??
    new provider.Grant({ accountId: session.userId, clientId: String(params.client_id) });
  grant.addOIDCScope(SCOPES.join(" "));
  const missing = (prompt.details as { missingOIDCClaims?: string[] }).missingOIDCClaims;
  if (missing?.length) grant.addOIDCClaims(missing);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

/**
 * Another user signed in to the portal in this browser than the one the provider's session remembers: that session
 * is dropped here (app grants do not depend on it), instead of the library's sign-out page that would end the first
 * user's app grants made in this browser and needs a script or a click.
 */
async function forgetProviderSession(uid: string, sessionId: string | undefined) {
  const provider = oidcProvider();
  if (sessionId) await provider.Session.adapter.destroy(sessionId);
  const interaction = await provider.Interaction.find(uid);
  if (!interaction) return;
  delete interaction.session;
  await interaction.save(interaction.exp! - Math.floor(Date.now() / 1000));
}
