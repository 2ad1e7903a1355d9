import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import type { Prisma } from "~/generated/prisma/client.ts";
import { db } from "~/lib/db.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { orgMethods, strategyUserSelect } from "~/lib/signin/methods.server.ts";
import { DataTable } from "~/components/data-table.tsx";

export const meta: MetaFunction = () => [{ title: "Users" }];

const methodLabel = { microsoft: "Microsoft", password: "Password + TOTP", none: "None — needs action" } as const;

const PAGE_SIZE = 50;
const FILTERS = {
  all: "All users",
  synced: "All users with active sync",
  local: "Users not synced",
  microsoft: "Sign in with Microsoft",
  password: "Sign in with password",
  none: "No sign-in method",
} as const;
type Filter = keyof typeof FILTERS;
const querySchema = z.object({
  show: z.enum(Object.keys(FILTERS) as [Filter, ...Filter[]]).catch("all"),
  q: z.string().trim().max(100).catch(""),
  page: z.coerce.number().int().min(1).max(10_000).catch(1),
});

export async function loader({ request }: LoaderFunctionArgs) {
  const { user: admin } = await requireAdmin(request);
  const query = querySchema.parse(Object.fromEntries(new URL(request.url).searchParams));
  const { state, strategyOf } = await orgMethods(admin.orgId);
  const where: Prisma.UserWhereInput = {
    orgId: admin.orgId,
    ...(query.show === "synced"
      ? { source: "synced", status: "active", syncIntegrationId: state.syncIntegrationId ?? "-" }
      : query.show === "local"
        ? { source: "local" }
        : {}),
    ...(query.q ? { OR: [{ name: { contains: query.q } }, { email: { contains: query.q.toLowerCase() } }, { phone: { contains: query.q } }] } : {}),
  };
  // The method is the strategy's answer, so a method filter is applied after resolving each row (pure, no I/O).
  const byMethod = ["microsoft", "password", "none"].includes(query.show);
  const rows = await db.user.findMany({
    where,
    orderBy: { name: "asc" },
    take: byMethod ? 5000 : PAGE_SIZE + 1,
    skip: byMethod ? 0 : (query.page - 1) * PAGE_SIZE,
    select: {
      ...strategyUserSelect,
      name: true,
      email: true,
      phone: true,
      role: true,
      status: true,
      microsoftLink: { select: { integrationId: true, upn: true, tenantId: true } },
    },
  });
  const users = rows
    .map((u) => ({
      id: u.id,
      name: u.name,
      email: u.email,
      phone: u.phone,
      role: u.role,
      source: u.source,
      status: u.status,
      method: strategyOf(u).method,
      hasPassword: Boolean(u.passwordHash),
      link: u.microsoftLink ? { upn: u.microsoftLink.upn, tenantId: u.microsoftLink.tenantId } : null,
    }))
    .filter((u) => !byMethod || u.method === query.show);
  const start = byMethod ? (query.page - 1) * PAGE_SIZE : 0;
  return { ...query, filters: FILTERS, users: users.slice(start, start + PAGE_SIZE), more: users.length > start + PAGE_SIZE };
}

export default function Users() {
  const { users, filters, show, q, page, more } = useLoaderData<typeof loader>();
  const pageLink = (to: number) => `?${new URLSearchParams({ show, q, page: String(to) })}`;
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
      {users.length === 0 ? <p>No users match.</p> : null}
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
        {page > 1 ? <Link to={pageLink(page - 1)}>← Previous</Link> : null}
        {more ? <Link to={pageLink(page + 1)}>Next →</Link> : null}
      </nav>
    </section>
  );
}
