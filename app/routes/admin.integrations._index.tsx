import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Field, FormError, Submit } from "~/components/form.tsx";
import { IntegrationStatus } from "~/components/integration-status.tsx";
import { audit } from "~/lib/audit.server.ts";
import { clientAddress } from "~/lib/context.ts";
import { db } from "~/lib/db.server.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { addIntegration, listIntegrations } from "~/lib/integrations.server.ts";
import { microsoftConfigured } from "~/lib/microsoft/config.server.ts";
import { previewChange } from "~/lib/previews.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { setPasswordOutcome } from "~/lib/set-password.server.ts";
import { SwitchPreview } from "~/components/switch-preview.tsx";

export const meta: MetaFunction = () => [{ title: "Microsoft integrations" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: user.orgId } });
  // Turning SSO off first shows who falls back to password and who is left with nothing.
  const confirmingOff = org.ssoEnabled && new URL(request.url).searchParams.get("confirm") === "sso-off";
  return {
    licensed: org.ssoLicensed,
    ssoEnabled: org.ssoEnabled,
    configured: microsoftConfigured(),
    integrations: org.ssoLicensed ? await listIntegrations(org.id) : [],
    offPreview: confirmingOff ? await previewChange(org.id, { kind: "org", ssoEnabled: false }) : null,
  };
}

const schema = z.discriminatedUnion(
  "intent",
  [
    z.object({ intent: z.literal("add"), tenant: z.string().trim().min(1, "Enter a tenant ID or a tenant domain.").max(253, "A tenant domain has at most 253 characters.") }),
    z.object({
      intent: z.literal("sso"),
      enabled: z.enum(["on", "off"], { error: "Choose on or off." }),
      confirmed: z.literal("yes").optional(),
      sendLinks: z.literal("yes").optional(),
    }),
  ],
  { error: "Choose an action on this page." },
);

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireAdmin(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: session.user.orgId } });
  if (!org.ssoLicensed) return data({ errors: { form: "Your organization's plan does not include single sign-on." } as Record<string, string>, tenant: "" }, { status: 403 });
  const form = await request.formData();
  const parsed = parseForm(form, schema);
  const tenantTyped = String(form.get("tenant") ?? "").slice(0, 253);
  if (!parsed.ok) return data({ errors: parsed.errors, tenant: tenantTyped }, { status: 400 });
  const address = clientAddress(context);

  if (parsed.data.intent === "sso") {
    const enabled = parsed.data.enabled === "on";
    if (enabled === org.ssoEnabled) return redirect("/admin/integrations");
    if (!enabled && parsed.data.confirmed !== "yes") return redirect("/admin/integrations?confirm=sso-off");
    const preview = enabled ? null : await previewChange(org.id, { kind: "org", ssoEnabled: false });
    await db.organization.update({ where: { id: org.id }, data: { ssoEnabled: enabled } });
    await audit({
      action: enabled ? "org.sso.enabled" : "org.sso.disabled", orgId: org.id, actorId: session.userId, ipAddress: address,
      detail: preview ? { toPassword: preview.toPassword.length, toNone: preview.toNone.length } : undefined,
    });
    let message = enabled ? "SSO is on for your organization." : "SSO is off for your organization.";
    if (preview?.toNone.length) message += ` ${await setPasswordOutcome(session, preview.toNone, parsed.data.sendLinks === "yes")}`;
    return redirect("/admin/integrations", { headers: { "Set-Cookie": await setFlash(message) } });
  }
  if (!microsoftConfigured()) return data({ errors: { tenant: "Microsoft sign-in is not configured on this server yet (ENTRA_CLIENT_ID and ENTRA_CLIENT_SECRET)." } as Record<string, string>, tenant: tenantTyped }, { status: 400 });
  const result = await addIntegration(session, parsed.data.tenant, address);
  if (!result.ok) return data({ errors: { tenant: result.error } as Record<string, string>, tenant: tenantTyped }, { status: 400 });
  return redirect(result.consentUrl);
}

export default function Integrations() {
  const { licensed, ssoEnabled, configured, integrations, offPreview } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (!licensed) {
    return (
      <section className="card">
        <h2>Microsoft integrations</h2>
        <p>Single sign-on with Microsoft Entra ID needs the SSO licence. Your organization doesn't have it yet; contact your account manager to add it.</p>
      </section>
    );
  }
  const active = integrations.filter((i) => i.status === "active").length;
  return (
    <>
      <section className="card" aria-labelledby="sso-heading">
        <h2 id="sso-heading">Single sign-on</h2>
        <p>
          SSO is <strong>{ssoEnabled ? "on" : "off"}</strong>.{" "}
          {ssoEnabled
            ? "Users with a linked Microsoft account sign in with it."
            : active
              ? "Turn it on to let users link their Microsoft account and sign in with it."
              : "Add and activate an integration first, then turn SSO on."}
        </p>
        {offPreview ? (
          <Form method="post" aria-labelledby="sso-off-heading">
            <h3 id="sso-off-heading">Turn SSO off?</h3>
            <SwitchPreview preview={offPreview} />
            <input type="hidden" name="enabled" value="off" />
            <input type="hidden" name="confirmed" value="yes" />
            <div className="row">
              <Submit name="intent" value="sso" className="danger" pendingText="Turning SSO off…">
                Turn SSO off
              </Submit>
              <Link to="/admin/integrations">Keep SSO on</Link>
            </div>
          </Form>
        ) : (
          <Form method="post">
            <input type="hidden" name="enabled" value={ssoEnabled ? "off" : "on"} />
            <Submit name="intent" value="sso" className={ssoEnabled ? "secondary" : undefined}>
              {ssoEnabled ? "Turn SSO off…" : "Enable SSO"}
            </Submit>
          </Form>
        )}
      </section>

      <section aria-labelledby="list-heading">
        <h2 id="list-heading">Microsoft integrations</h2>
        {integrations.length === 0 ? (
          <p>No Microsoft tenant is registered yet.</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Tenant</th>
                  <th scope="col">Status</th>
                  <th scope="col">Added</th>
                  <th scope="col">Linked users</th>
                </tr>
              </thead>
              <tbody>
                {integrations.map((i) => (
                  <tr key={i.id}>
                    <td>
                      <Link to={`/admin/integrations/${i.id}`}>{i.displayName ?? i.tenantDomain ?? "Unnamed tenant"}</Link>
                      <div className="hint">{i.tenantId}</div>
                    </td>
                    <td>
                      <IntegrationStatus status={i.status} reason={i.failureReason} />
                    </td>
                    <td>
                      {new Date(i.createdAt).toUTCString()}
                      {i.addedBy ? <div className="hint">by {i.addedBy}</div> : null}
                    </td>
                    <td>{i.linkedUsers}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="add-heading">
        <h2 id="add-heading">Add integration</h2>
        {!configured ? <p className="form-error">Microsoft sign-in is not configured on this server yet (ENTRA_CLIENT_ID and ENTRA_CLIENT_SECRET).</p> : null}
        <Form method="post" noValidate>
          <FormError message={result?.errors?.form} />
          <Field
            name="tenant"
            label="Tenant ID or domain"
            hint="The directory (tenant) ID from the Entra admin center, or a domain of the tenant such as contoso.onmicrosoft.com. Next, Microsoft asks a global admin of that tenant to approve the app."
            required
            maxLength={253}
            autoComplete="off"
            defaultValue={result?.tenant}
            error={result?.errors?.tenant ?? result?.errors?.intent}
          />
          <Submit name="intent" value="add" pendingText="Looking up the tenant…">
            Continue to Microsoft
          </Submit>
        </Form>
      </section>
    </>
  );
}
