// One user's page for admins: who they are, how they sign in (the strategy says), their Microsoft link (revoked
// here, after a confirmation) or sync identity, the per-user SSO switch of a synced user, and their invitation.
// Not nested under the users list; drawn inside the admin layout (its header and tabs).
import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, Submit } from "~/components/form.tsx";
import { LockoutConfirm, SwitchPreview } from "~/components/switch-preview.tsx";
import { summarisePreview } from "~/lib/preview-summary.ts";
import { clientAddress } from "~/lib/context.ts";
import { db } from "~/lib/db.server.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { invitationStatusOf, resendInvitation, type InvitationStatus } from "~/lib/invitations.server.ts";
import { revokeLink } from "~/lib/links.server.ts";
import { linkLifetime } from "~/lib/link-lifetimes.ts";
import { appSessionsOf, endAppSessionOf } from "~/lib/profile.server.ts";
import { AppSessions } from "~/components/app-sessions.tsx";
import { orgMethods, whatIf } from "~/lib/signin/methods.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { setUserSso } from "~/lib/sso.server.ts";
import { count } from "~/lib/wording.ts";

export const meta: MetaFunction = () => [{ title: "User" }];

const METHOD = { microsoft: "Microsoft", password: "Password + authenticator app", none: "None — needs action" } as const;
const notFound = () => new Response("Not found", { status: 404 });

async function load(request: Request, id: string | undefined) {
  const session = await requireAdmin(request);
  const user =
    typeof id === "string" && id.length <= 64 ? await db.user.findFirst({ where: { id, orgId: session.user.orgId }, include: { microsoftLink: true } }) : null;
  if (!user) throw notFound();
  return { session, user };
}

/** What the invitation section offers: nothing for a user who has a password or no email address. */
function invitationOffer(user: { passwordHash: string | null; email: string | null }, status: InvitationStatus | null) {
  if (user.passwordHash || !user.email || status === "accepted") return null;
  return { status, label: status === null ? "Send invitation" : status === "revoked" ? "Invite again" : "Resend invitation" };
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { user } = await load(request, params.id);
  const [methods, sessions, invitation, apps] = await Promise.all([
    orgMethods(user.orgId),
    db.session.count({ where: { userId: user.id, stage: "active" } }),
    invitationStatusOf(user),
    appSessionsOf(user.id),
  ]);
  const { state } = methods;
  const strategy = methods.strategyOf(user);
  const confirm = new URL(request.url).searchParams.get("confirm");
  const offPreview =
    confirm === "sso-off" && user.ssoEnabled ? summarisePreview(await whatIf(user.orgId, { kind: "user_sso", userId: user.id, enabled: false })) : null;
  const revoke = confirm === "revoke" && user.microsoftLink ? await whatIf(user.orgId, { kind: "link", userId: user.id, integrationId: null }) : null;
  return {
    user: {
      id: user.id,
      name: user.name,
      email: user.email,
      phone: user.phone,
      jobTitle: user.jobTitle,
      role: user.role,
      status: user.status,
      source: user.source,
      ssoEnabled: user.ssoEnabled,
      entraUpn: user.entraUpn,
      lastSyncedAt: user.lastSyncedAt?.toISOString() ?? null,
      hasPassword: Boolean(user.passwordHash),
      link: user.microsoftLink
        ? { upn: user.microsoftLink.upn, tenantId: user.microsoftLink.tenantId, since: user.microsoftLink.createdAt.toISOString() }
        : null,
    },
    method: strategy.method,
    sessions,
    apps,
    orgSso: state.ssoEnabled,
    allSynced: state.ssoForAllSynced,
    confirm: confirm === "sso-lockout" ? "lockout" : offPreview ? "off" : revoke ? "revoke" : null,
    offPreview,
    revokePreview: revoke ? { to: revoke.target?.to ?? "none", locksOut: revoke.locksOut } : null,
    invitation: user.status === "active" || invitation === "revoked" ? invitationOffer(user, invitation) : null,
    invitationLifetime: linkLifetime("invitation"),
  };
}

const yes = z.literal("yes").optional();
const schema = z.discriminatedUnion(
  "intent",
  [
    z.object({
      intent: z.literal("sso"),
      enabled: z.enum(["on", "off"], { error: "Choose on or off." }),
      confirmed: yes,
      lockoutConfirmed: yes,
      sendLinks: yes,
    }),
    z.object({ intent: z.literal("revoke"), confirmed: yes, lockoutConfirmed: yes, sendLink: yes }),
    z.object({ intent: z.literal("invite") }),
    z.object({ intent: z.literal("end-app"), grantId: z.string().regex(/^[\w-]{10,64}$/, "Choose an app from the list.") }),
  ],
  { error: "Choose an action on this page." },
);

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { session, user } = await load(request, params.id);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ error: Object.values(parsed.errors)[0] }, { status: 400 });
  const back = `/admin/users/${user.id}`;
  const address = clientAddress(context);
  const form = parsed.data;
  const done = async (message: string) => redirect(back, { headers: { "Set-Cookie": await setFlash(message) } });

  if (form.intent === "revoke") {
    // Without the confirmation page's explicit yes nothing changes: a stray or replayed click lands on that page.
    if (form.confirmed !== "yes") return redirect(`${back}?confirm=revoke`);
    const result = await revokeLink(session, user.id, address, { sendLink: form.sendLink === "yes", lockoutConfirmed: form.lockoutConfirmed === "yes" });
    if (!result.ok && result.status === 404) throw notFound();
    if (!result.ok) return data({ error: result.message }, { status: result.status });
    return done(result.message);
  }
  if (form.intent === "end-app") {
    const appName = await endAppSessionOf(session, user, form.grantId, address);
    if (!appName) return data({ error: "That app's sign-in has already ended." }, { status: 400 });
    return done(`${user.name} is signed out of ${appName}.`);
  }
  if (form.intent === "invite") {
    const outcome = await resendInvitation(session, user.id, address);
    if (!outcome) throw notFound();
    if (!outcome.ok) return data({ error: outcome.error }, { status: 400 });
    return done(outcome.message);
  }
  const result = await setUserSso(session, user.id, form.enabled === "on", address, {
    confirmed: form.confirmed === "yes",
    lockoutConfirmed: form.lockoutConfirmed === "yes",
    sendLinks: form.sendLinks === "yes",
  });
  if (!result) throw notFound();
  if (result.kind === "confirm_off") return redirect(`${back}?confirm=sso-off`);
  if (result.kind === "confirm_lockout") return redirect(`${back}?confirm=sso-lockout`);
  if (result.kind === "refused") return data({ error: result.message }, { status: 400 });
  return done(result.message);
}

export default function UserPage() {
  const {
    user: u,
    method,
    sessions,
    apps,
    orgSso,
    allSynced,
    confirm,
    offPreview,
    revokePreview,
    invitation,
    invitationLifetime,
  } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const self = `/admin/users/${u.id}`;
  return (
    <>
      <p>
        <Link to="/admin/users">← All users</Link>
      </p>
      <h2>{u.name}</h2>
      <FormError message={result?.error} />
      <section className="card" aria-labelledby="who-heading">
        <h3 id="who-heading">Account</h3>
        <dl>
          <dt>Email</dt>
          <dd>{u.email ?? "none"}</dd>
          <dt>Mobile</dt>
          <dd>{u.phone ?? "none"}</dd>
          {u.jobTitle ? (
            <>
              <dt>Job title</dt>
              <dd>{u.jobTitle}</dd>
            </>
          ) : null}
          <dt>Role</dt>
          <dd>{u.role === "admin" ? "Admin" : "Member"}</dd>
          <dt>Status</dt>
          <dd>{u.status === "active" ? "Active" : "Deactivated"}</dd>
          <dt>Signs in with</dt>
          <dd data-testid="method">
            <strong>{METHOD[method]}</strong>
          </dd>
          <dt>Signed in on</dt>
          <dd>{count(sessions, "device")}</dd>
        </dl>
      </section>

      {apps.length ? (
        <section className="card" aria-labelledby="apps-heading">
          <h2 id="apps-heading">Apps signed in</h2>
          <AppSessions apps={apps} />
        </section>
      ) : null}

      {u.source === "synced" ? (
        <section className="card" aria-labelledby="sync-heading">
          <h3 id="sync-heading">Synced from Entra ID</h3>
          <p>
            Microsoft account {u.entraUpn ?? "(no user principal name)"}
            {u.lastSyncedAt ? `, last synced ${new Date(u.lastSyncedAt).toUTCString()}` : ""}.
          </p>
          {allSynced ? (
            <p>
              SSO is <strong>on for all synced users</strong>: no synced user can be excepted. Change it on the <Link to="/admin/sso">Single Sign-On</Link>{" "}
              page.
            </p>
          ) : confirm === "off" || confirm === "lockout" ? (
            <Form method="post" aria-labelledby="confirm-heading">
              <h4 id="confirm-heading">{confirm === "off" ? `Turn SSO off for ${u.name}?` : `Turn SSO on for ${u.name}?`}</h4>
              {confirm === "off" && offPreview ? (
                <>
                  <SwitchPreview preview={offPreview} />
                  <input type="hidden" name="confirmed" value="yes" />
                  <input type="hidden" name="enabled" value="off" />
                </>
              ) : (
                <>
                  <p className="form-error" role="alert">
                    Every admin of your organization would then sign in with Microsoft only; if Microsoft is down nobody could sign in to fix it. Keep one admin
                    on password + authenticator app.
                  </p>
                  <input type="hidden" name="lockoutConfirmed" value="yes" />
                  <input type="hidden" name="enabled" value="on" />
                </>
              )}
              <div className="row">
                <Submit name="intent" value="sso" className="danger">
                  {confirm === "off" ? "Turn SSO off" : "Turn SSO on anyway"}
                </Submit>
                <Link to={self}>Cancel</Link>
              </div>
            </Form>
          ) : (
            <Form method="post">
              <p>
                SSO for {u.name} is <strong>{u.ssoEnabled ? "on" : "off"}</strong>.
                {u.ssoEnabled ? "" : " Turning it on removes their password: they sign in with Microsoft only."}
                {orgSso ? "" : " It takes effect when SSO is on for the organization."}
              </p>
              <input type="hidden" name="enabled" value={u.ssoEnabled ? "off" : "on"} />
              <Submit name="intent" value="sso" className={u.ssoEnabled ? "secondary" : undefined}>
                {u.ssoEnabled ? "Turn SSO off…" : "Turn SSO on"}
              </Submit>
            </Form>
          )}
        </section>
      ) : u.link ? (
        <section className="card" aria-labelledby="link-heading">
          <h3 id="link-heading">Microsoft account</h3>
          <p>
            Linked to {u.link.upn ?? u.link.tenantId} since {new Date(u.link.since).toUTCString()}.
          </p>
          {confirm === "revoke" && revokePreview ? (
            <Form method="post" aria-labelledby="revoke-heading" data-testid="revoke-confirm">
              <h4 id="revoke-heading">Revoke the Microsoft link of {u.name}?</h4>
              <p>
                Their Microsoft sessions end now, and they can no longer sign in with this Microsoft account.{" "}
                {revokePreview.to === "password"
                  ? "They sign in with their password and authenticator app again."
                  : revokePreview.to === "none"
                    ? `${u.name} has no password: they are left with no way to sign in until they set one.`
                    : null}
              </p>
              {revokePreview.to === "none" && u.email ? (
                <label>
                  <input type="checkbox" name="sendLink" value="yes" defaultChecked /> Email {u.email} a link to set a password
                </label>
              ) : null}
              {revokePreview.locksOut ? <LockoutConfirm /> : null}
              <input type="hidden" name="confirmed" value="yes" />
              <div className="row">
                <Submit name="intent" value="revoke" className="danger" pendingText="Revoking…">
                  Revoke link
                </Submit>
                <Link to={self}>Cancel</Link>
              </div>
            </Form>
          ) : (
            <p>
              <Link className="button secondary" to={`${self}?confirm=revoke`}>
                Revoke link…
              </Link>
            </p>
          )}
        </section>
      ) : null}

      {invitation ? (
        <section className="card" aria-labelledby="invitation-heading">
          <h3 id="invitation-heading">Invitation</h3>
          <p>
            {invitation.status === null
              ? `${u.name} has no password and was never invited.`
              : invitation.status === "revoked"
                ? `${u.name}'s invitation was revoked.`
                : invitation.status === "expired"
                  ? `${u.name}'s invitation expired.`
                  : `${u.name} has a pending invitation.`}{" "}
            An invitation emails {u.email} a link that works once, for {invitationLifetime}, and says how they sign in.
            {invitation.status === null ? "" : " Earlier links stop working."}
          </p>
          <Form method="post">
            <Submit name="intent" value="invite" className="secondary" pendingText="Sending…">
              {invitation.label}
            </Submit>
          </Form>
        </section>
      ) : null}
    </>
  );
}
