import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Field, FormError, Submit } from "~/components/form.tsx";
import { IntegrationStatus } from "~/components/integration-status.tsx";
import { clientAddress } from "~/lib/context.ts";
import { db } from "~/lib/db.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { addIntegration, listIntegrations } from "~/lib/integrations.server.ts";
import { microsoftConfigured } from "~/lib/microsoft/config.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { DataTable } from "~/components/data-table.tsx";

export const meta: MetaFunction = () => [{ title: "Microsoft integrations" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: user.orgId } });
  return {
    licensed: org.ssoLicensed,
    ssoEnabled: org.ssoEnabled,
    configured: microsoftConfigured(),
    integrations: org.ssoLicensed ? await listIntegrations(org.id) : [],
  };
}

const schema = z.object({
  intent: z.literal("add", { error: "Choose an action on this page." }),
  tenant: z.string().trim().min(1, "Enter a tenant ID or a tenant domain.").max(253, "A tenant domain has at most 253 characters."),
});

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireAdmin(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: session.user.orgId } });
  if (!org.ssoLicensed)
    return data({ errors: { form: "Your organization's plan does not include single sign-on." } as Record<string, string>, tenant: "" }, { status: 403 });
  const form = await request.formData();
  const parsed = parseForm(form, schema);
  const tenantTyped = String(form.get("tenant") ?? "").slice(0, 253);
  if (!parsed.ok) return data({ errors: parsed.errors, tenant: tenantTyped }, { status: 400 });
  const address = clientAddress(context);

  if (!microsoftConfigured())
    return data(
      {
        errors: { tenant: "Microsoft sign-in is not configured on this server yet (ENTRA_CLIENT_ID and ENTRA_CLIENT_SECRET)." } as Record<string, string>,
        tenant: tenantTyped,
      },
      { status: 400 },
    );
  const result = await addIntegration(session, parsed.data.tenant, address);
  if (!result.ok) return data({ errors: { tenant: result.error } as Record<string, string>, tenant: tenantTyped }, { status: 400 });
  return redirect(result.consentUrl);
}

export default function Integrations() {
  const { licensed, ssoEnabled, configured, integrations } = useLoaderData<typeof loader>();
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
        <p>
          <Link to="/admin/sso">Manage single sign-on</Link>
        </p>
      </section>

      <section aria-labelledby="list-heading">
        <h2 id="list-heading">Microsoft integrations</h2>
        {integrations.length === 0 ? (
          <p>No Microsoft tenant is registered yet.</p>
        ) : (
          <DataTable columns={["Tenant", "Status", "Added", "Linked users"]}>
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
          </DataTable>
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
