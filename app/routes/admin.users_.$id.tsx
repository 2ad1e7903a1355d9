// One user's page for admins: who they are, how they sign in (the strategy says), their Microsoft link
// or sync identity, and the per-user SSO switch of a synced user. Not nested under the users list.
import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, Submit } from "~/components/form.tsx";
import { Shell } from "~/components/shell.tsx";
import { SwitchPreview } from "~/components/switch-preview.tsx";
import { clientAddress } from "~/lib/context.ts";
import { db } from "~/lib/db.server.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { orgMethods, whatIf } from "~/lib/signin/methods.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { setUserSso } from "~/lib/sso.server.ts";

export const meta: MetaFunction = () => [{ title: "User" }];

const METHOD = { microsoft: "Microsoft", password: "Password + authenticator app", none: "None — needs action" } as const;

async function load(request: Request, id: string | undefined) {
  const session = await requireAdmin(request);
  const user =
    typeof id === "string" && id.length <= 64 ? await db.user.findFirst({ where: { id, orgId: session.user.orgId }, include: { microsoftLink: true } }) : null;
  if (!user) throw new Response("Not found", { status: 404 });
  return { session, user };
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { session, user } = await load(request, params.id);
  const [org, methods, sessions] = await Promise.all([
    db.organization.findUniqueOrThrow({ where: { id: user.orgId }, select: { name: true, ssoEnabled: true, ssoForAllSynced: true } }),
    orgMethods(user.orgId),
    db.session.count({ where: { userId: user.id, stage: "active" } }),
  ]);
  const strategy = methods.strategyOf(user);
  const confirm = new URL(request.url).searchParams.get("confirm");
  const offPreview = confirm === "sso-off" && user.ssoEnabled ? await whatIf(user.orgId, { kind: "user_sso", userId: user.id, enabled: false }) : null;
  return {
    admin: { name: session.user.name, orgName: org.name },
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
    orgSso: org.ssoEnabled,
    allSynced: org.ssoForAllSynced,
    confirm: confirm === "sso-lockout" ? "lockout" : offPreview ? "off" : null,
    offPreview,
  };
}

const schema = z.object({
  intent: z.literal("sso", { error: "Choose an action on this page." }),
  enabled: z.enum(["on", "off"], { error: "Choose on or off." }),
  confirmed: z.literal("yes").optional(),
  lockoutConfirmed: z.literal("yes").optional(),
  sendLinks: z.literal("yes").optional(),
});

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { session, user } = await load(request, params.id);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ error: Object.values(parsed.errors)[0] }, { status: 400 });
  const { enabled, confirmed, lockoutConfirmed, sendLinks } = parsed.data;
  const back = `/admin/users/${user.id}`;
  const result = await setUserSso(session, user.id, enabled === "on", clientAddress(context), {
    confirmed: confirmed === "yes",
    lockoutConfirmed: lockoutConfirmed === "yes",
    sendLinks: sendLinks === "yes",
  });
  if (!result) throw new Response("Not found", { status: 404 });
  if (result.kind === "confirm_off") return redirect(`${back}?confirm=sso-off`);
  if (result.kind === "confirm_lockout") return redirect(`${back}?confirm=sso-lockout`);
  if (result.kind === "refused") return data({ error: result.message }, { status: 400 });
  return redirect(back, { headers: { "Set-Cookie": await setFlash(result.message) } });
}

export default function UserPage() {
  const { admin, user: u, method, sessions, orgSso, allSynced, confirm, offPreview } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <Shell userName={admin.name} orgName={admin.orgName} isAdmin>
      <main>
        <p>
          <Link to="/admin/users">← All users</Link>
        </p>
        <h1>{u.name}</h1>
        <FormError message={result?.error} />
        <section className="card" aria-labelledby="who-heading">
          <h2 id="who-heading">Account</h2>
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
            <dd>{sessions} device(s)</dd>
          </dl>
        </section>

        {u.source === "synced" ? (
          <section className="card" aria-labelledby="sync-heading">
            <h2 id="sync-heading">Synced from Entra ID</h2>
            <p>
              Microsoft account {u.entraUpn ?? "(no user principal name)"}
              {u.lastSyncedAt ? `, last synced ${new Date(u.lastSyncedAt).toUTCString()}` : ""}.
            </p>
            {allSynced ? (
              <p>
                SSO is <strong>on for all synced users</strong>: no synced user can be excepted. Change it on the <Link to="/admin/sso">Single Sign-On</Link>{" "}
                page.
              </p>
            ) : confirm ? (
              <Form method="post" aria-labelledby="confirm-heading">
                <h3 id="confirm-heading">{confirm === "off" ? `Turn SSO off for ${u.name}?` : `Turn SSO on for ${u.name}?`}</h3>
                {confirm === "off" && offPreview ? (
                  <>
                    <SwitchPreview preview={offPreview} />
                    <input type="hidden" name="confirmed" value="yes" />
                    <input type="hidden" name="enabled" value="off" />
                  </>
                ) : (
                  <>
                    <p className="form-error" role="alert">
                      Every admin of your organization would then sign in with Microsoft only; if Microsoft is down nobody could sign in to fix it. Keep one
                      admin on password + authenticator app.
                    </p>
                    <input type="hidden" name="lockoutConfirmed" value="yes" />
                    <input type="hidden" name="enabled" value="on" />
                  </>
                )}
                <div className="row">
                  <Submit name="intent" value="sso" className="danger">
                    {confirm === "off" ? "Turn SSO off" : "Turn SSO on anyway"}
                  </Submit>
                  <Link to={`/admin/users/${u.id}`}>Cancel</Link>
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
            <h2 id="link-heading">Microsoft account</h2>
            <p>
              Linked to {u.link.upn ?? u.link.tenantId} since {new Date(u.link.since).toUTCString()}. Revoke it from the{" "}
              <Link to="/admin/users">users list</Link>.
            </p>
          </section>
        ) : null}
      </main>
    </Shell>
  );
}
