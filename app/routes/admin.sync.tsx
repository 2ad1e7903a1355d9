import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useRevalidator } from "@remix-run/react";
import { useEffect } from "react";
import { z } from "zod";
import { Field, FormError, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { db } from "~/lib/db.server.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { microsoftConfigured } from "~/lib/microsoft/config.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { resolveConflict } from "~/lib/sync/conflicts.server.ts";
import { startSync } from "~/lib/sync/run.server.ts";
import { connect, disconnect, syncOverview } from "~/lib/sync/settings.server.ts";
import { DataTable } from "~/components/data-table.tsx";
import { LockoutConfirm } from "~/components/switch-preview.tsx";

export const meta: MetaFunction = () => [{ title: "Entra ID Sync" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: user.orgId }, select: { ssoLicensed: true } });
  if (!org.ssoLicensed) return { licensed: false, configured: false, connection: null, integrations: [], runs: [], conflicts: [], running: false };
  const overview = await syncOverview(user.orgId);
  return { licensed: true, configured: microsoftConfigured(), ...overview, running: overview.runs.some((r) => r.status === "running") };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GROUP_HINT = "Enter the group's object ID, a GUID such as 29b697a7-d452-46b7-9550-ff5cdc3a9ffa (Entra admin center → Groups → the group → Object ID).";
const id = (message: string) => z.string({ error: message }).min(1, message).max(64, message);

const schema = z.discriminatedUnion(
  "intent",
  [
    z
      .object({
        intent: z.literal("connect"),
        integrationId: id("Choose one of your organization's active integrations."),
        scope: z.enum(["tenant", "group"], { error: "Choose the whole tenant or the members of one group." }),
        groupId: z.string().trim().max(100, GROUP_HINT).optional(),
        confirmed: z.literal("yes", { error: "Confirm the change with the button on this page." }).optional(),
      })
      .superRefine((v, ctx) => {
        if (v.scope === "group" && !GUID.test(v.groupId ?? "")) ctx.addIssue({ code: "custom", path: ["groupId"], message: GROUP_HINT });
      }),
    z.object({ intent: z.literal("stop") }),
    z.object({ intent: z.literal("sync") }),
    z.object({
      intent: z.literal("resolve"),
      conflictId: id("Choose a conflict on this page."),
      resolution: z.enum(["attach", "separate"], { error: "Choose to attach the user or to keep them separate." }),
      lockoutConfirmed: z.literal("yes").optional(),
    }),
  ],
  { error: "Choose an action on this page." },
);

type ActionData = {
  errors: Record<string, string>;
  values?: { integrationId?: string; scope?: string; groupId?: string };
  confirm?: { from: string; to: string; scopeChanges: boolean; integrationId: string; scope: string; groupId: string };
  /** Attaching this conflict's user leaves no admin on password: the admin must say yes. */
  lockoutConflictId?: string;
};

const fail = (errors: Record<string, string>, status: number, values?: ActionData["values"]) => data<ActionData>({ errors, values }, { status });
const done = async (message: string) => redirect("/admin/sync", { headers: { "Set-Cookie": await setFlash(message) } });

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireAdmin(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: session.user.orgId }, select: { ssoLicensed: true, syncIntegrationId: true } });
  if (!org.ssoLicensed) return fail({ form: "Your organization's plan does not include single sign-on and Entra ID Sync." }, 403);
  const form = await request.formData();
  const parsed = parseForm(form, schema);
  const typed = (name: string) => String(form.get(name) ?? "").slice(0, 100);
  const values = { integrationId: typed("integrationId"), scope: typed("scope"), groupId: typed("groupId") };
  if (!parsed.ok) return fail(parsed.errors, 400, values);
  const address = clientAddress(context);
  const input = parsed.data;

  if (input.intent === "connect") {
    const choice = { integrationId: input.integrationId, scope: input.scope, groupId: input.scope === "group" ? input.groupId!.toLowerCase() : null };
    const result = await connect(session, choice, input.confirmed === "yes", address);
    if (result.kind === "refused") return fail({ [result.field]: result.message }, result.field === "form" ? 409 : 400, values);
    if (result.kind === "confirm")
      return data<ActionData>({
        errors: {},
        values,
        confirm: { ...result, integrationId: choice.integrationId, scope: choice.scope, groupId: choice.groupId ?? "" },
      });
    return done(result.message);
  }
  if (input.intent === "stop") {
    const result = await disconnect(session, address);
    return result.ok ? done(result.message) : fail({ form: result.message }, 409);
  }
  if (input.intent === "sync") {
    if (!org.syncIntegrationId) return fail({ form: "Choose a sync connection first." }, 400);
    const started = await startSync(org.syncIntegrationId, "manual", {}, session.userId);
    if (started.kind === "busy") return fail({ form: "A sync is already running for this tenant; its progress is shown below." }, 409);
    if (started.kind === "not_connected")
      return fail({ form: "The sync connection is not active. Check the integration under Users → Microsoft integrations." }, 400);
    if (started.kind === "missing_permissions") return fail({ form: `Nothing was synced. ${started.message}` }, 409);
    return done("Sync started. Its progress is shown below.");
  }
  const result = await resolveConflict(session, input.conflictId, input.resolution, address, { lockoutConfirmed: input.lockoutConfirmed === "yes" });
  if (result.ok) return done(result.message);
  return data<ActionData>({ errors: { form: result.message }, lockoutConflictId: result.confirmLockout ? input.conflictId : undefined }, { status: 409 });
}

/** While a run is going: polls with JavaScript; without it, the page refreshes itself (the noscript meta). */
function usePolling(active: boolean) {
  const { revalidate } = useRevalidator();
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") revalidate();
    }, 2000);
    return () => clearInterval(timer);
  }, [active, revalidate]);
}

const when = (iso: string | null) => (iso ? new Date(iso).toUTCString() : "—");
const STATUS: Record<string, string> = { running: "Running", succeeded: "Succeeded", failed: "Failed", interrupted: "Stopped unexpectedly" };

export default function EntraIdSync() {
  const { licensed, configured, connection, integrations, runs, conflicts, running } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  usePolling(running);
  if (!licensed) {
    return (
      <section className="card">
        <h2>Entra ID Sync</h2>
        <p>Entra ID Sync needs the SSO licence. Your organization doesn't have it yet; contact your account manager to add it.</p>
      </section>
    );
  }
  const errors = result?.errors ?? {};
  const current = runs.find((r) => r.status === "running");
  const chosen = {
    integrationId: result?.values?.integrationId || connection?.id || "",
    scope: result?.values?.scope || connection?.scope || "tenant",
    groupId: result?.values?.groupId ?? connection?.groupId ?? "",
  };
  return (
    <>
      {running ? (
        <noscript>
          <meta httpEquiv="refresh" content="3" />
        </noscript>
      ) : null}
      <section className="card" aria-labelledby="connection-heading">
        <h2 id="connection-heading">Entra ID Sync</h2>
        {!configured ? <p className="form-error">Microsoft sign-in is not configured on this server yet (ENTRA_CLIENT_ID and ENTRA_CLIENT_SECRET).</p> : null}
        <p>
          {connection
            ? `Users are read from ${connection.name} (${connection.scope === "group" ? `members of group ${connection.groupId}` : "the whole tenant"}): created, updated and deactivated here.`
            : "Sync is off. Choose an active integration to read its users from Microsoft Entra ID."}
        </p>
        {connection && connection.status !== "active" ? (
          <p className="form-error">
            This integration is not active (it was removed or is waiting for consent), so sync is paused. Activate it again under Users → Microsoft
            integrations, or choose another one.
          </p>
        ) : null}
        {connection?.missingPermissions ? (
          <p className="form-error" role="alert" data-testid="missing-permissions">
            {connection.missingPermissions} <Link to={`/admin/integrations/${connection.id}`}>Open the integration</Link>
          </p>
        ) : null}
        {result?.confirm ? (
          <Form method="post" aria-labelledby="confirm-heading">
            <h3 id="confirm-heading">
              {result.confirm.scopeChanges ? "Change what is synced?" : `Sync ${result.confirm.to} instead of ${result.confirm.from}?`}
            </h3>
            <p>
              {result.confirm.scopeChanges
                ? "The next run reads the new scope from the start. Synced users outside it are deactivated and signed out."
                : `Syncing ${result.confirm.from} stops: its users stay as they are and are no longer updated. The next run reads ${result.confirm.to} from the start.`}
            </p>
            <input type="hidden" name="integrationId" value={result.confirm.integrationId} />
            <input type="hidden" name="scope" value={result.confirm.scope} />
            <input type="hidden" name="groupId" value={result.confirm.groupId} />
            <input type="hidden" name="confirmed" value="yes" />
            <div className="row">
              <Submit name="intent" value="connect" className="danger" pendingText="Saving…">
                {result.confirm.scopeChanges ? "Change the scope" : `Sync ${result.confirm.to}`}
              </Submit>
              <Link to="/admin/sync">Keep it as it is</Link>
            </div>
          </Form>
        ) : integrations.length === 0 ? (
          <p>No integration is active yet. Add one under Users → Microsoft integrations first.</p>
        ) : (
          <Form method="post" noValidate>
            <FormError message={errors.form ?? errors.intent ?? errors.confirmed} />
            <div>
              <label htmlFor="integrationId">Sync connection</label>
              <select
                id="integrationId"
                name="integrationId"
                defaultValue={chosen.integrationId}
                aria-invalid={errors.integrationId ? true : undefined}
                aria-describedby={errors.integrationId ? "integrationId-error" : undefined}
              >
                {integrations.map((i) => (
                  <option key={i.id} value={i.id}>
                    {i.name} ({i.tenantId})
                  </option>
                ))}
              </select>
              {errors.integrationId ? (
                <p className="field-error" id="integrationId-error">
                  {errors.integrationId}
                </p>
              ) : null}
            </div>
            <fieldset aria-describedby={errors.scope ? "scope-error" : undefined}>
              <legend>Scope</legend>
              <label>
                <input type="radio" name="scope" value="tenant" defaultChecked={chosen.scope !== "group"} /> The whole tenant
              </label>
              <label>
                <input type="radio" name="scope" value="group" defaultChecked={chosen.scope === "group"} /> The members of one group
              </label>
              {errors.scope ? (
                <p className="field-error" id="scope-error">
                  {errors.scope}
                </p>
              ) : null}
            </fieldset>
            <Field
              name="groupId"
              label="Group object ID (for a group scope)"
              maxLength={100}
              autoComplete="off"
              defaultValue={chosen.groupId}
              error={errors.groupId}
              hint="Nested groups are not followed: only the group's direct user members are synced."
            />
            <div className="row">
              <Submit name="intent" value="connect" pendingText="Saving…">
                {connection ? "Change…" : "Start syncing"}
              </Submit>
            </div>
          </Form>
        )}
        {connection && !result?.confirm ? (
          <Form method="post">
            <p className="hint">Stopping keeps synced users as they are; they are no longer updated.</p>
            <Submit name="intent" value="stop" className="secondary" pendingText="Stopping…">
              Stop syncing
            </Submit>
          </Form>
        ) : null}
      </section>

      {connection ? (
        <section className="card" aria-labelledby="run-heading" aria-live="polite">
          <h2 id="run-heading">Sync now</h2>
          {current ? (
            <p>
              A sync is running (started {when(current.startedAt)}): {current.pagesDone} page(s) read, {current.created} created, {current.updated} updated,{" "}
              {current.deactivated} deactivated, {current.conflicts} conflict(s), {current.errors} error(s).
            </p>
          ) : (
            <Form method="post">
              <p className="hint">The schedule also syncs on its own.</p>
              <Submit name="intent" value="sync" pendingText="Starting…">
                Sync now
              </Submit>
            </Form>
          )}
        </section>
      ) : null}

      {conflicts.length ? (
        <section aria-labelledby="conflicts-heading">
          <h2 id="conflicts-heading">Conflicts</h2>
          <p className="hint">These directory users match a user who already exists here. Sync never merges them on its own.</p>
          <DataTable columns={["In Entra ID", "Already here", "Decision"]}>
            {conflicts.map((c) => (
              <tr key={c.id}>
                <td>
                  {c.directory.name ?? "Unnamed"}
                  <div className="hint">{[c.directory.upn, c.directory.email, c.directory.jobTitle].filter(Boolean).join(" · ")}</div>
                </td>
                <td>
                  {c.local.name}
                  <div className="hint">
                    {c.local.email ?? "no email"}
                    {c.local.synced ? " · synced" : ""}
                  </div>
                </td>
                <td>
                  <Form method="post" className="row">
                    <input type="hidden" name="conflictId" value={c.id} />
                    {result?.lockoutConflictId === c.id ? <LockoutConfirm /> : null}
                    <Submit name="resolution" value="attach">
                      Make {c.local.name} the synced user
                    </Submit>
                    <Submit name="resolution" value="separate" className="secondary">
                      Keep separate
                    </Submit>
                    <input type="hidden" name="intent" value="resolve" />
                  </Form>
                </td>
              </tr>
            ))}
          </DataTable>
        </section>
      ) : null}

      <section aria-labelledby="history-heading">
        <h2 id="history-heading">History</h2>
        {runs.length === 0 ? (
          <p>No sync has run yet.</p>
        ) : (
          <DataTable columns={["Started", "Status", "Created", "Updated", "Deactivated", "Conflicts", "Errors"]}>
            {runs.map((r) => (
              <tr key={r.id}>
                <td>
                  {when(r.startedAt)}
                  <div className="hint">
                    {r.tenant} · {r.trigger === "manual" ? "Sync now" : "schedule"} · {r.pagesDone} page(s)
                  </div>
                </td>
                <td>
                  <strong className={`status status-${r.status}`}>{STATUS[r.status] ?? r.status}</strong>
                  {r.errorMessage ? <div className="hint">{r.errorMessage}</div> : null}
                </td>
                <td>{r.created}</td>
                <td>{r.updated}</td>
                <td>{r.deactivated}</td>
                <td>{r.conflicts}</td>
                <td>{r.errors}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
    </>
  );
}
