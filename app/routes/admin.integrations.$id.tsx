import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useLoaderData, useActionData } from "@remix-run/react";
import { z } from "zod";
import { Submit, FormError } from "~/components/form.tsx";
import { IntegrationStatus } from "~/components/integration-status.tsx";
import { clientAddress } from "~/lib/context.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import {
  confirmIntegration,
  consentUrlFor,
  findIntegration,
  ownershipProof,
  permissionGap,
  removalPreview,
  removeIntegration,
  tenantAdminSignInUrl,
} from "~/lib/integrations.server.ts";
import { CONSENT_ADMIN_ROLES } from "~/lib/microsoft/directory-roles.ts";
import { MicrosoftUnavailableError } from "~/lib/microsoft/http.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { setPasswordOutcome } from "~/lib/set-password.server.ts";
import { LockoutConfirm, SwitchPreview } from "~/components/switch-preview.tsx";
import { summarisePreview } from "~/lib/preview-summary.ts";
import { count } from "~/lib/wording.ts";

export const meta: MetaFunction = () => [{ title: "Microsoft integration" }];

async function load(request: Request, id: string | undefined) {
  const session = await requireAdmin(request);
  const integration = await findIntegration(session.user.orgId, id ?? "");
  if (!integration) throw new Response("Not found", { status: 404 });
  return { session, integration };
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { integration } = await load(request, params.id);
  const removal = integration.status === "removed" ? null : await removalPreview(integration);
  const preview = removal ? { linked: removal.linked.length, ...summarisePreview(removal) } : null;
  return {
    integration: {
      id: integration.id,
      tenantId: integration.tenantId,
      tenantDomain: integration.tenantDomain,
      displayName: integration.displayName,
      status: integration.status,
      failureReason: integration.failureReason,
      consentedAt: integration.consentedAt?.toISOString() ?? null,
    },
    ownership: ownershipProof(integration),
    permissions: integration.status === "active" ? await permissionGap(integration) : null,
    preview,
  };
}

const schema = z.discriminatedUnion(
  "intent",
  [
    z.object({ intent: z.literal("check"), lockoutConfirmed: z.literal("yes").optional() }),
    z.object({ intent: z.literal("consent") }),
    z.object({ intent: z.literal("owner") }),
    z.object({ intent: z.literal("remove"), sendLinks: z.literal("yes").optional(), lockoutConfirmed: z.literal("yes").optional() }),
  ],
  { error: "Choose an action on this page." },
);

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { session, integration } = await load(request, params.id);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ error: Object.values(parsed.errors)[0] }, { status: 400 });
  const address = clientAddress(context);
  const back = `/admin/integrations/${integration.id}`;
  if (integration.status === "removed") return data({ error: "This integration was removed. Add the tenant again to use it." }, { status: 400 });

  if (parsed.data.intent === "consent") return redirect(await consentUrlFor(session, integration));
  if (parsed.data.intent === "owner") {
    try {
      return redirect(await tenantAdminSignInUrl(session, integration));
    } catch (error) {
      if (!(error instanceof MicrosoftUnavailableError)) throw error;
      return data({ error: "Microsoft could not be reached. Nothing was changed; try again in a few minutes." }, { status: 503 });
    }
  }
  if (parsed.data.intent === "check") {
    const result = await confirmIntegration(session, integration, address, { lockoutConfirmed: parsed.data.lockoutConfirmed === "yes" });
    if (result.kind === "confirm_lockout") {
      return data(
        {
          error:
            "Consent is granted, but activating this tenant would leave no admin who can sign in with a password and authenticator app. Tick the confirmation and check again to activate it.",
          lockout: true,
        },
        { status: 409 },
      );
    }
    const message = {
      active: "Consent confirmed: the integration is active.",
      waiting: "Microsoft has not confirmed consent yet.",
      unavailable: "Microsoft could not be reached. Check again in a few minutes.",
      ownership_needed: "Nothing was activated: an admin of the tenant must sign in first (Sign in as a tenant admin).",
    }[result.kind];
    return redirect(back, { headers: { "Set-Cookie": await setFlash(message) } });
  }
  const removed = await removeIntegration(session, integration, address, { lockoutConfirmed: parsed.data.lockoutConfirmed === "yes" });
  if (removed.kind === "confirm_lockout") {
    return data(
      {
        error: "Nothing was removed: no admin would be left who can sign in with a password and authenticator app. Tick the confirmation to remove it anyway.",
      },
      { status: 409 },
    );
  }
  const { preview } = removed;
  let message = `Integration removed. ${count(preview.linked.length, "link")} revoked.`;
  if (preview.toNone.length) message += ` ${await setPasswordOutcome(session, preview.toNone, parsed.data.sendLinks === "yes")}`;
  return redirect("/admin/integrations", { headers: { "Set-Cookie": await setFlash(message) } });
}

export default function IntegrationDetail() {
  const { integration: i, ownership, permissions, preview } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const waiting = i.status === "pending_consent" || i.status === "failed";
  return (
    <>
      <p>
        <Link to="/admin/integrations">← All integrations</Link>
      </p>
      <FormError message={result?.error} />
      <section className="card" aria-labelledby="int-heading">
        <h2 id="int-heading">{i.displayName ?? i.tenantDomain ?? "Microsoft tenant"}</h2>
        <dl>
          <dt>Tenant ID</dt>
          <dd>{i.tenantId}</dd>
          <dt>Status</dt>
          <dd>
            <IntegrationStatus status={i.status} />
          </dd>
          {i.failureReason && i.status !== "active" ? (
            <>
              <dt>What Microsoft said</dt>
              <dd data-testid="failure-reason">{i.failureReason}</dd>
            </>
          ) : null}
          {i.consentedAt ? (
            <>
              <dt>Consent confirmed</dt>
              <dd>{new Date(i.consentedAt).toUTCString()}</dd>
            </>
          ) : null}
        </dl>
        {waiting ? (
          <>
            <p>
              The app can't get a token for this tenant yet. A global administrator of the tenant may still need to grant consent for the app's API permissions
              (sign-in, and Microsoft Graph <code>User.Read.All</code> for sync). Consent can take a minute to reach every Microsoft server.
            </p>
            <div className="row">
              <Form method="post">
                {result && "lockout" in result && result.lockout ? <LockoutConfirm /> : null}
                <Submit name="intent" value="check" pendingText="Checking…">
                  Check again
                </Submit>
              </Form>
              <Form method="post">
                <Submit name="intent" value="consent" className="secondary">
                  Consent again
                </Submit>
              </Form>
            </div>
          </>
        ) : null}
      </section>

      {i.status !== "removed" ? (
        <section className="card" aria-labelledby="owner-heading">
          <h2 id="owner-heading">Tenant ownership</h2>
          {ownership ? (
            <p data-testid="ownership">
              Proven on {new Date(ownership.provenAt).toUTCString()} by {ownership.upn ?? ownership.objectId}, {ownership.role} of the tenant.
            </p>
          ) : (
            <>
              <p role={i.status === "active" ? "alert" : undefined} data-testid="ownership">
                {i.status === "active"
                  ? "Ownership not proven — sign in as a tenant admin to confirm. This integration was active before the portal asked for the proof; it cannot be activated again without it."
                  : "Before this tenant can be used, an admin of the tenant must sign in here with their Microsoft account, to show that your organization controls it."}{" "}
                The account needs one of these roles in the tenant: {CONSENT_ADMIN_ROLES.map((r) => r.name).join(", ")}.
              </p>
              <Form method="post">
                <Submit name="intent" value="owner" className={i.status === "active" ? "secondary" : undefined}>
                  Sign in as a tenant admin
                </Submit>
              </Form>
            </>
          )}
        </section>
      ) : null}

      {permissions?.sentence ? (
        <section className="card" aria-labelledby="perm-heading">
          <h2 id="perm-heading">Missing permissions</h2>
          <p role="alert" data-testid="missing-permissions">
            {permissions.sentence}
          </p>
          <Form method="post">
            <Submit name="intent" value="consent">
              Grant permissions
            </Submit>
          </Form>
        </section>
      ) : null}

      {preview ? (
        <section className="card" aria-labelledby="remove-heading">
          <h2 id="remove-heading">Remove this integration</h2>
          <p>
            {preview.linked === 0
              ? "No user is linked through this tenant."
              : `${count(preview.linked, "user")} linked through this tenant will have their link revoked and their Microsoft sessions ended.`}
          </p>
          <Form method="post">
            <SwitchPreview preview={preview} csvHref={`/admin/integrations/${i.id}/preview`} />
            <Submit name="intent" value="remove" className="danger" pendingText="Removing…">
              Remove integration
            </Submit>
          </Form>
        </section>
      ) : null}
    </>
  );
}
