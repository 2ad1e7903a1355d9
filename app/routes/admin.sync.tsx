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
import { findGroups, type GroupMatch } from "~/lib/sync/scope-impact.server.ts";
import { impactSentence, leftoverSentences, progressSentence, runDuration, runRound, scheduleSentence } from "~/lib/sync/sentences.ts";
import { count } from "~/lib/wording.ts";
import { DataTable } from "~/components/data-table.tsx";
import { LockoutConfirm } from "~/components/switch-preview.tsx";

export const meta: MetaFunction = () => [{ title: "Entra ID Sync" }];

const cursorSchema = z
  .string()
  .regex(/^[a-z0-9]{1,64}$/i)
  .nullable()
  .catch(null);

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: user.orgId }, select: { ssoLicensed: true } });
  if (!org.ssoLicensed) return { licensed: false as const, integrations: [], runs: [], conflicts: [] };
  // ?before=<run id>: the next page of the history (older runs); it works as a plain link, without JavaScript.
  const overview = await syncOverview(user.orgId, cursorSchema.parse(new URL(request.url).searchParams.get("before")));
  return { licensed: true as const, configured: microsoftConfigured(), ...overview, running: overview.current !== null };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GROUP_HINT =
  "Pick a group found by name, or enter the group's object ID, a GUID such as 29b697a7-d452-46b7-9550-ff5cdc3a9ffa (Entra admin center → Groups → the group → Object ID).";
const SEARCH_HINT = "Type part of the group's name (up to 100 characters).";
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
    z.object({
      intent: z.literal("search"),
      integrationId: id("Choose one of your organization's active integrations."),
      groupSearch: z.string({ error: SEARCH_HINT }).trim().min(1, SEARCH_HINT).max(100, SEARCH_HINT),
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

type Values = { integrationId?: string; scope?: string; groupId?: string; groupSearch?: string };
type ActionData = {
  errors: Record<string, string>;
  values?: Values;
  /** Groups found by name (the search round trip); the admin picks one with a radio button. */
  matches?: GroupMatch[];
  confirm?: {
    from: string;
    to: string;
    scopeChanges: boolean;
    integrationId: string;
    scope: string;
    groupId: string;
    impact: ConnectConfirm["impact"];
  };
  /** Attaching this conflict's user leaves no admin on password: the admin must say yes. */
  lockoutConflictId?: string;
};

type ConnectConfirm = Extract<Awaited<ReturnType<typeof connect>>, { kind: "confirm" }>;

const fail = (errors: Record<string, string>, status: number, values?: Values) => data<ActionData>({ errors, values }, { status });
const done = async (message: string) => redirect("/admin/sync", { headers: { "Set-Cookie": await setFlash(message) } });

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireAdmin(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: session.user.orgId }, select: { ssoLicensed: true, syncIntegrationId: true } });
  if (!org.ssoLicensed) return fail({ form: "Your organization's plan does not include single sign-on and Entra ID Sync." }, 403);
  const form = await request.formData();
  // Enter in the object-ID field presses the form's first button, "Find groups": with no name typed, the admin
  // meant to save the ID they typed.
  const blank = (name: string) => !String(form.get(name) ?? "").trim();
  if (form.get("intent") === "search" && blank("groupSearch") && !blank("groupObjectId")) form.set("intent", "connect");
  // A group picked from the search results (radio "groupId") wins over the advanced object-ID field.
  if (!String(form.get("groupId") ?? "").trim() && form.has("groupObjectId")) form.set("groupId", String(form.get("groupObjectId")));
  const parsed = parseForm(form, schema);
  const typed = (name: string) => String(form.get(name) ?? "").slice(0, 100);
  const values = { integrationId: typed("integrationId"), scope: typed("scope"), groupId: typed("groupId"), groupSearch: typed("groupSearch") };
  if (!parsed.ok) return fail(parsed.errors, 400, values);
  const address = clientAddress(context);
  const input = parsed.data;

  if (input.intent === "search") {
    const found = await findGroups(session.user.orgId, input.integrationId, input.groupSearch);
    const searched = { ...values, scope: "group" };
    if (found.kind === "refused") return fail({ integrationId: found.message }, 400, searched);
    if (found.kind === "failed") return fail({ groupSearch: found.message }, found.code === "unavailable" ? 503 : 409, searched);
    if (!found.groups.length)
      return fail({ groupSearch: `No group of this tenant has "${input.groupSearch}" in its name. Check the spelling, or type less of it.` }, 404, searched);
    return data<ActionData>({ errors: {}, values: searched, matches: found.groups });
  }
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
const groupText = (c: { groupId: string | null; groupName: string | null }) => (c.groupName ? `${c.groupName} (${c.groupId})` : `group ${c.groupId}`);

export default function EntraIdSync() {
  const loaded = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  usePolling(loaded.licensed && loaded.running);
  if (!loaded.licensed) {
    return (
      <section className="card">
        <h2>Entra ID Sync</h2>
        <p>Entra ID Sync needs the SSO licence. Your organization doesn't have it yet; contact your account manager to add it.</p>
      </section>
    );
  }
  const { configured, connection, integrations, runs, current, conflicts, running, older, paged, standing, intervalMinutes } = loaded;
  const errors = result?.errors ?? {};
  const matches = result?.matches ?? [];
  const chosen = {
    integrationId: result?.values?.integrationId || connection?.id || "",
    scope: result?.values?.scope || connection?.scope || "tenant",
    groupId: result?.values?.groupId ?? connection?.groupId ?? "",
    groupSearch: result?.values?.groupSearch ?? "",
  };
  const confirm = result?.confirm;
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
        <p data-testid="connection-summary">
          {connection
            ? `Users are read from ${connection.name} (${connection.scope === "group" ? `members of ${groupText(connection)}` : "the whole tenant"}): created, updated and deactivated here. ${count(standing.byConnection, "user is", "users are")} synced through this connection.`
            : "Sync is off. Choose an active integration to read its users from Microsoft Entra ID."}
        </p>
        {standing.left.total ? (
          <p data-testid="leftover-users">
            {leftoverSentences(standing.left).join(" ")}{" "}
            {standing.left.none ? <Link to="/admin/users?show=none">Users with no sign-in method</Link> : <Link to="/admin/users">All users</Link>}
          </p>
        ) : null}
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
        {confirm ? (
          <Form method="post" aria-labelledby="confirm-heading">
            <h3 id="confirm-heading">{confirm.scopeChanges ? "Change what is synced?" : `Sync ${confirm.to} instead of ${confirm.from}?`}</h3>
            <p>
              {confirm.scopeChanges
                ? "The next run reads the new scope from the start."
                : `Syncing ${confirm.from} stops: its users stay as they are and are no longer updated. The next run reads ${confirm.to} from the start.`}
            </p>
            <p data-testid="scope-impact">{impactSentence(confirm.impact, confirm.to)}</p>
            {confirm.impact.kind === "counted" && confirm.impact.leaving ? (
              <>
                <ul>
                  {confirm.impact.first.map((u) => (
                    <li key={u.id}>
                      {u.name} {u.email ? <span className="hint">({u.email})</span> : null}
                    </li>
                  ))}
                </ul>
                {confirm.impact.leaving > confirm.impact.first.length ? (
                  <p className="hint">
                    …and {count(confirm.impact.leaving - confirm.impact.first.length, "more user")}.{" "}
                    <a
                      href={`/admin/sync/preview?${new URLSearchParams({ integrationId: confirm.integrationId, scope: confirm.scope, groupId: confirm.groupId })}`}
                      download
                    >
                      Download the full list (CSV)
                    </a>
                  </p>
                ) : null}
              </>
            ) : null}
            <input type="hidden" name="integrationId" value={confirm.integrationId} />
            <input type="hidden" name="scope" value={confirm.scope} />
            <input type="hidden" name="groupId" value={confirm.groupId} />
            <input type="hidden" name="confirmed" value="yes" />
            <div className="row">
              <Submit name="intent" value="connect" className="danger" pendingText="Saving…">
                {confirm.scopeChanges ? "Change the scope" : `Sync ${confirm.to}`}
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
              name="groupSearch"
              label="Find the group by name (for a group scope)"
              maxLength={100}
              autoComplete="off"
              defaultValue={chosen.groupSearch}
              error={errors.groupSearch}
              hint="Nested groups are not followed: only the group's direct user members are synced."
            />
            <div className="row">
              <Submit name="intent" value="search" className="secondary" pendingText="Searching…">
                Find groups
              </Submit>
            </div>
            {matches.length ? (
              <fieldset data-testid="group-matches">
                <legend>Groups found ({count(matches.length, "group")})</legend>
                {matches.map((g, i) => (
                  <label key={g.id}>
                    <input type="radio" name="groupId" value={g.id} defaultChecked={g.id === chosen.groupId || (i === 0 && matches.length === 1)} />{" "}
                    {g.displayName} <span className="hint">{g.mail ?? g.id}</span>
                  </label>
                ))}
              </fieldset>
            ) : null}
            <details open={Boolean(errors.groupId) || undefined}>
              <summary>Advanced: enter the group's object ID</summary>
              <Field
                name="groupObjectId"
                label="Group object ID"
                maxLength={100}
                autoComplete="off"
                defaultValue={matches.length ? "" : chosen.groupId}
                error={errors.groupId}
              />
            </details>
            <div className="row">
              <Submit name="intent" value="connect" pendingText="Saving…">
                {connection ? "Change…" : "Start syncing"}
              </Submit>
            </div>
          </Form>
        )}
        {connection && !confirm ? (
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
              A sync is running (started {when(current.startedAt)}): {progressSentence(current)}
            </p>
          ) : (
            <Form method="post">
              <p className="hint" data-testid="schedule">
                {scheduleSentence(intervalMinutes)}
              </p>
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
          <p>{paged ? "No older runs." : "No sync has run yet."}</p>
        ) : (
          <DataTable columns={["Started", "Ended", "Round", "Outcome", "Created", "Updated", "Deactivated", "Conflicts", "Errors"]}>
            {runs.map((r) => (
              <tr key={r.id}>
                <td>
                  {when(r.startedAt)}
                  <div className="hint">
                    {r.tenant} · {r.trigger === "manual" ? "Sync now" : "schedule"}
                  </div>
                </td>
                <td>
                  {when(r.finishedAt)}
                  <div className="hint">{runDuration(r)}</div>
                </td>
                <td>
                  {runRound(r)}
                  <div className="hint">{count(r.pagesDone, "page")}</div>
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
        <nav className="row" aria-label="History pages">
          {paged ? <Link to="/admin/sync">Newest runs</Link> : null}
          {older ? <Link to={`/admin/sync?before=${older}`}>Older runs</Link> : null}
        </nav>
      </section>
    </>
  );
}
