import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { requireAdmin } from "~/lib/session.server.ts";
import { listUsers, USER_FILTERS, type UserFilter } from "~/lib/users-list.server.ts";
import { count } from "~/lib/wording.ts";
import { DataTable } from "~/components/data-table.tsx";

export const meta: MetaFunction = () => [{ title: "Users" }];

const methodLabel = { microsoft: "Microsoft", password: "Password + TOTP", none: "None — needs action" } as const;

const cursor = z
  .string()
  .regex(/^[\w-]{1,64}$/)
  .nullable()
  .catch(null)
  .default(null);
const querySchema = z.object({
  show: z.enum(Object.keys(USER_FILTERS) as [UserFilter, ...UserFilter[]]).catch("all"),
  q: z.string().trim().max(100).catch(""),
  after: cursor,
  before: cursor,
});

export async function loader({ request }: LoaderFunctionArgs) {
  const { user: admin } = await requireAdmin(request);
  const query = querySchema.parse(Object.fromEntries(new URL(request.url).searchParams));
  const list = await listUsers(admin.orgId, query);
  return { show: query.show, q: query.q, filters: USER_FILTERS, ...list };
}

export default function Users() {
  const { users, filters, show, q, total, previous, next } = useLoaderData<typeof loader>();
  const pageLink = (cursor: Record<string, string>) => `?${new URLSearchParams({ show, q, ...cursor })}`;
  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      <Form method="get" className="row" role="search">
        <div>
          <label htmlFor="show">Show</label>
          <select id="show" name="show" defaultValue={show}>
            {Object.entries(filters).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="q">Name, email or phone</label>
          <input id="q" name="q" type="search" defaultValue={q} maxLength={100} />
        </div>
        <button type="submit" className="secondary">
          Filter
        </button>
      </Form>
      {users.length === 0 ? <p>No users match.</p> : <p data-testid="users-total">{count(total, "user")}</p>}
      <DataTable columns={["Name", "Sign-in method", "Microsoft account"]}>
        {users.map((u) => (
          <tr key={u.id} data-testid={`user-${u.email ?? u.id}`}>
            <td>
              <Link to={`/admin/users/${u.id}`}>{u.name}</Link>
              {u.role === "admin" ? " (admin)" : ""}
              {u.status !== "active" ? " — deactivated" : ""}
              <div className="hint">{u.email ?? u.phone ?? "no email or phone"}</div>
            </td>
            <td>
              <strong>{methodLabel[u.method]}</strong>
              {u.source === "synced" ? <div className="hint">Synced from Entra ID</div> : null}
            </td>
            <td>
              {u.link ? (
                <>
                  <div>{u.link.upn ?? u.link.tenantId}</div>
                  {/* Revoking asks first, on the user's page (it works the same without JavaScript). */}
                  <Link to={`/admin/users/${u.id}?confirm=revoke`}>
                    Revoke link…<span className="visually-hidden"> of {u.name}</span>
                  </Link>
                </>
              ) : (
                "—"
              )}
            </td>
          </tr>
        ))}
      </DataTable>
      <nav className="row" aria-label="Pages">
        {previous ? <Link to={pageLink({ before: previous })}>← Previous</Link> : null}
        {next ? <Link to={pageLink({ after: next })}>Next →</Link> : null}
      </nav>
    </section>
  );
}
