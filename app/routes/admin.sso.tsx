import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, Submit } from "~/components/form.tsx";
import { SwitchPreview } from "~/components/switch-preview.tsx";
import { clientAddress } from "~/lib/context.ts";
import { db } from "~/lib/db.server.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { count } from "~/lib/wording.ts";
import { syncedStanding } from "~/lib/sync/settings.server.ts";
import { leftoverSentences } from "~/lib/sync/sentences.ts";
import { summarisePreview, type PreviewSummary } from "~/lib/preview-summary.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { ORG_SWITCHES, setOrgSwitch, switchPreview, type OrgSwitchTarget } from "~/lib/sso.server.ts";

export const meta: MetaFunction = () => [{ title: "Single Sign-On" }];

const SWITCHES = ORG_SWITCHES;
type Target = OrgSwitchTarget;
const confirmSchema = z
  .string()
  .regex(/^(off|lockout)-(org|all)$/)
  .nullable()
  .catch(null);

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const org = await db.organization.findUniqueOrThrow({
    where: { id: user.orgId },
    include: { syncIntegration: { select: { status: true, displayName: true, tenantId: true } } },
  });
  const [standing, syncedWithFlag, activeIntegrations] = await Promise.all([
    syncedStanding(org.id),
    // The current connection's users only: a leftover's switch does nothing (decision 026).
    db.user.count({ where: { orgId: org.id, source: "synced", status: "active", ssoEnabled: true, syncIntegrationId: org.syncIntegrationId ?? "-" } }),
    db.integration.count({ where: { orgId: org.id, status: "active" } }),
  ]);
  // ?confirm=off-org etc.: the preview the admin must see before a switch goes off, or the lock-out warning.
  const confirm = confirmSchema.parse(new URL(request.url).searchParams.get("confirm"));
  const [step, target] = (confirm?.split("-") ?? [null, null]) as ["off" | "lockout" | null, Target | null];
  const name = target ? SWITCHES[target] : null;
  const pending = name && step ? { step, target: target!, enabled: step === "lockout" } : null;
  const preview = pending ? summarisePreview(await switchPreview(org.id, pending.target, pending.enabled)) : null;
  return {
    licensed: org.ssoLicensed,
    ssoEnabled: org.ssoEnabled,
    ssoForAllSynced: org.ssoForAllSynced,
    sync: org.syncIntegration
      ? { name: org.syncIntegration.displayName ?? org.syncIntegration.tenantId, active: org.syncIntegration.status === "active" }
      : null,
    synced: standing.byConnection,
    leftovers: standing.left,
    syncedWithFlag,
    activeIntegrations,
    pending,
    preview,
  };
}

const schema = z.object({
  intent: z.enum(["org", "all"], { error: "Choose a switch on this page." }),
  enabled: z.enum(["on", "off"], { error: "Choose on or off." }),
  confirmed: z.literal("yes").optional(),
  lockoutConfirmed: z.literal("yes").optional(),
  sendLinks: z.literal("yes").optional(),
});

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireAdmin(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ error: Object.values(parsed.errors)[0] }, { status: 400 });
  const { intent, enabled, confirmed, lockoutConfirmed, sendLinks } = parsed.data;
  const result = await setOrgSwitch(session, SWITCHES[intent], enabled === "on", clientAddress(context), {
    confirmed: confirmed === "yes",
    lockoutConfirmed: lockoutConfirmed === "yes",
    sendLinks: sendLinks === "yes",
  });
  if (result.kind === "confirm_off") return redirect(`/admin/sso?confirm=off-${intent}`);
  if (result.kind === "confirm_lockout") return redirect(`/admin/sso?confirm=lockout-${intent}`);
  if (result.kind === "refused") return data({ error: result.message }, { status: result.message.includes("plan") ? 403 : 400 });
  return redirect("/admin/sso", { headers: { "Set-Cookie": await setFlash(result.message) } });
}

const LABELS: Record<Target, { on: string; off: string }> = {
  org: { on: "Enable SSO", off: "Turn SSO off" },
  all: { on: "Enable for all synced users", off: "Turn off for all synced users" },
};

export default function SingleSignOn() {
  const s = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (!s.licensed) {
    return (
      <section className="card">
        <h2>Single Sign-On</h2>
        <p>Single sign-on with Microsoft Entra ID needs the SSO licence. Your organization doesn't have it yet; contact your account manager to add it.</p>
      </section>
    );
  }
  const toggle = (target: Target, on: boolean) => (
    <Form method="post">
      <input type="hidden" name="enabled" value={on ? "off" : "on"} />
      <Submit name="intent" value={target} className={on ? "secondary" : undefined}>
        {on ? `${LABELS[target].off}…` : LABELS[target].on}
      </Submit>
    </Form>
  );
  return (
    <>
      <FormError message={result?.error} />
      {s.pending && s.preview ? <Confirm pending={s.pending} preview={s.preview} /> : null}

      <section className="card" aria-labelledby="sso-heading">
        <h2 id="sso-heading">Single Sign-On, SSO</h2>
        <p>
          SSO is <strong>{s.ssoEnabled ? "on" : "off"}</strong> for your organization.{" "}
          {s.activeIntegrations ? null : (
            <>
              No Microsoft tenant is active yet: <Link to="/admin/integrations">add an integration</Link> first.
            </>
          )}
        </p>
        <p className="hint">
          With SSO on, users with a linked Microsoft account, and synced users with SSO, sign in with Microsoft. Everyone else keeps their password and
          authenticator app.
        </p>
        {s.pending ? null : toggle("org", s.ssoEnabled)}
      </section>

      <section className="card" aria-labelledby="synced-heading">
        <h2 id="synced-heading">Synced users</h2>
        {s.sync ? (
          <>
            <p>
              {count(s.synced, "user is", "users are")} synced by the current connection, {s.sync.name}
              {s.sync.active ? "" : " (the integration is not active: synced users keep their password)"}. SSO for all synced users is{" "}
              <strong>{s.ssoForAllSynced ? "on" : "off"}</strong>
              {s.ssoForAllSynced
                ? ": no synced user can be excepted."
                : `; ${count(s.syncedWithFlag, "has", "have")} it switched on one by one (on each user's page).`}
            </p>
            {s.leftovers.total ? (
              <p data-testid="leftover-users">
                {leftoverSentences(s.leftovers).join(" ")}{" "}
                {s.leftovers.none ? <Link to="/admin/users?show=none">Users with no sign-in method</Link> : <Link to="/admin/users">All users</Link>}
              </p>
            ) : null}
            <p className="hint">
              When SSO starts for a synced user, their password is removed: they sign in with Microsoft only. Keep at least one admin on password +
              authenticator app for when Microsoft is down.
            </p>
            {s.pending ? null : toggle("all", s.ssoForAllSynced)}
          </>
        ) : (
          <p>
            {s.leftovers.total ? `${leftoverSentences(s.leftovers).join(" ")} ` : "No users are synced. "}
            <Link to="/admin/sync">Set up Entra ID Sync</Link> to bring users in from Microsoft.
          </p>
        )}
      </section>
    </>
  );
}

type ConfirmProps = {
  pending: { step: "off" | "lockout"; target: Target; enabled: boolean };
  preview: PreviewSummary;
};

function Confirm({ pending, preview }: ConfirmProps) {
  const label = pending.enabled ? LABELS[pending.target].on : LABELS[pending.target].off;
  return (
    <section className="card" aria-labelledby="confirm-heading">
      <Form method="post">
        <h2 id="confirm-heading">{label}?</h2>
        {pending.step === "lockout" ? (
          <>
            <p className="form-error" role="alert">
              Every admin of your organization would sign in with Microsoft only. If Microsoft is down or the integration breaks, nobody could sign in to fix
              it. We recommend keeping one admin on password + authenticator app.
            </p>
            <p>{count(preview.toMicrosoft, "user")} would start signing in with Microsoft.</p>
            <input type="hidden" name="lockoutConfirmed" value="yes" />
          </>
        ) : (
          <>
            <SwitchPreview preview={preview} csvHref={`/admin/sso/preview?switch=${pending.target}&enabled=${pending.enabled ? "on" : "off"}`} />
            <input type="hidden" name="confirmed" value="yes" />
          </>
        )}
        <input type="hidden" name="enabled" value={pending.enabled ? "on" : "off"} />
        <div className="row">
          <Submit name="intent" value={pending.target} className="danger">
            {pending.step === "lockout" ? `${label} anyway` : label}
          </Submit>
          <Link to="/admin/sso">Cancel</Link>
        </div>
      </Form>
    </section>
  );
}
