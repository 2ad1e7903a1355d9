import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { Field, FormError } from "~/components/form.tsx";
import { DataTable } from "~/components/data-table.tsx";
import { auditPage, parseAuditFilter } from "~/lib/audit-log.server.ts";
import { ACTION_GROUPS, KNOWN_ACTIONS } from "~/lib/audit-sentences.ts";
import { env } from "~/lib/env.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";

export const meta: MetaFunction = () => [{ title: "Audit log" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const retentionDays = env().AUDIT_RETENTION_DAYS ?? null;
  const parsed = parseAuditFilter(new URL(request.url).searchParams);
  if (!parsed.ok) {
    return data({ filter: parsed.filter, errors: parsed.errors, rows: [], next: null, paged: false, notice: null, retentionDays }, { status: 400 });
  }
  const page = await auditPage(user.orgId, parsed.filter);
  const notice = page.badCursor
    ? "That page link is no longer valid: showing the newest events."
    : page.unmatched.length
      ? `No user of your organization matches the ${page.unmatched.map((f) => (f === "actor" ? "“Who”" : "“Affected user”")).join(" and ")} search.`
      : null;
  const { cursor, ...filter } = parsed.filter;
  return { filter, errors: {} as Record<string, string>, rows: page.rows, next: page.next, paged: Boolean(cursor), notice, retentionDays };
}

export default function AuditLog() {
  const { filter, errors, rows, next, paged, notice, retentionDays } = useLoaderData<typeof loader>();
  const chosen = Object.fromEntries(Object.entries(filter).filter(([k, v]) => v && k !== "cursor")) as Record<string, string>;
  const query = (extra: Record<string, string>) => `?${new URLSearchParams({ ...chosen, ...extra })}`;
  const filtered = Object.keys(chosen).length > 0;
  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit log</h2>
      <p className="hint">
        Every sign-in and every change to your organization, newest first.{" "}
        {retentionDays ? `Events are kept for ${retentionDays} days.` : "Events are kept until an operator sets a retention period."}
      </p>
      <Form method="get" className="filters" role="search" aria-label="Filter the audit log">
        <div>
          <label htmlFor="type">Event type</label>
          <select id="type" name="type" defaultValue={filter.type ?? ""} aria-invalid={errors.type ? true : undefined}>
            <option value="">All events</option>
            {Object.entries(ACTION_GROUPS).map(([group, label]) => (
              <optgroup key={group} label={label}>
                <option value={group}>All: {label.toLowerCase()}</option>
                {KNOWN_ACTIONS.filter((a) => a === group || a.startsWith(`${group}.`)).map((a) => (
                  <option key={a} value={a}>
                    {a}
                  </option>
                ))}
              </optgroup>
            ))}
          </select>
          {errors.type ? <p className="field-error">{errors.type}</p> : null}
        </div>
        <Field name="actor" label="Who (name or email)" type="search" maxLength={100} defaultValue={filter.actor ?? ""} error={errors.actor} />
        <Field name="user" label="Affected user (name or email)" type="search" maxLength={100} defaultValue={filter.user ?? ""} error={errors.user} />
        <Field name="from" label="From (UTC)" type="date" defaultValue={filter.from ?? ""} error={errors.from} />
        <Field name="to" label="To (UTC, inclusive)" type="date" defaultValue={filter.to ?? ""} error={errors.to} />
        <div className="row">
          <button type="submit" className="secondary">
            Filter
          </button>
          {filtered ? <Link to="/admin/audit">Clear filters</Link> : null}
        </div>
      </Form>
      <FormError message={errors.form ?? notice} />
      {Object.keys(errors).length ? null : (
        <p className="row">
          Export {filtered ? "these events" : "all events"}:{" "}
          <a href={`/admin/audit/export${query({ format: "csv" })}`} download>
            CSV
          </a>{" "}
          <a href={`/admin/audit/export${query({ format: "jsonl" })}`} download>
            JSON Lines
          </a>
        </p>
      )}
      {rows.length === 0 && !Object.keys(errors).length ? <p>No events match.</p> : null}
      <DataTable columns={["When (UTC)", "What happened", "From"]}>
        {rows.map((e) => (
          <tr key={e.id} data-testid="audit-event">
            <td>
              <time dateTime={e.at}>{e.at.replace("T", " ").slice(0, 19)}</time>
            </td>
            <td>
              {e.result === "failure" ? <strong className="badge">Failed</strong> : null} {e.sentence}
              {Object.keys(e.detail).length ? (
                <details>
                  <summary>
                    Details<span className="visually-hidden"> of {e.action}</span>
                  </summary>
                  <dl className="detail-list">
                    <dt>Event</dt>
                    <dd>
                      <code>{e.action}</code>
                    </dd>
                    {Object.entries(e.detail).map(([k, v]) => (
                      <div key={k}>
                        <dt>{k}</dt>
                        <dd>{typeof v === "string" ? v : JSON.stringify(v)}</dd>
                      </div>
                    ))}
                  </dl>
                </details>
              ) : null}
            </td>
            <td>
              {e.address ?? "—"}
              {e.device ? <div className="hint">{e.device}</div> : null}
            </td>
          </tr>
        ))}
      </DataTable>
      <nav className="row" aria-label="Pages">
        {paged ? <Link to={query({})}>← Newest events</Link> : null}
        {next ? <Link to={query({ cursor: next })}>Older events →</Link> : null}
      </nav>
    </section>
  );
}
