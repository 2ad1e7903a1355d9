import type { LoaderFunctionArgs } from "@remix-run/node";
import { NavLink, Outlet, useLoaderData } from "@remix-run/react";
import { Shell } from "~/components/shell.tsx";
import { db } from "~/lib/db.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: user.orgId }, select: { name: true } });
  return { name: user.name, orgName: org.name };
}

export default function Admin() {
  const { name, orgName } = useLoaderData<typeof loader>();
  return (
    <Shell userName={name} orgName={orgName} isAdmin>
      <main>
        <h1>Organization Settings</h1>
        <nav className="tabs" aria-label="Organization settings">
          <NavLink to="/admin/users">Users</NavLink>
          <NavLink to="/admin/integrations">Users → Microsoft integrations</NavLink>
          <NavLink to="/admin/sync">Users → Entra ID Sync</NavLink>
          <NavLink to="/admin/sso">Users → Single Sign-On</NavLink>
          <NavLink to="/admin/invitations">Invitations</NavLink>
          <NavLink to="/admin/audit">Audit log</NavLink>
        </nav>
        <Outlet />
      </main>
    </Shell>
  );
}
