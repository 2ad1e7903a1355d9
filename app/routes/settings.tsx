import type { LoaderFunctionArgs } from "@remix-run/node";
import { NavLink, Outlet, useLoaderData } from "@remix-run/react";
import { Shell } from "~/components/shell.tsx";
import { db } from "~/lib/db.server.ts";
import { requireUser } from "~/lib/session.server.ts";

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireUser(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: user.orgId }, select: { name: true } });
  return { name: user.name, orgName: org.name, isAdmin: user.role === "admin" };
}

const tabs = [
  ["/settings", "Profile"],
  ["/settings/password", "Password"],
  ["/settings/two-factor", "Authenticator app"],
  ["/settings/recovery-codes", "Recovery codes"],
  ["/settings/sessions", "Sessions"],
  ["/settings/microsoft", "Microsoft account"],
] as const;

export default function Settings() {
  const { name, orgName, isAdmin } = useLoaderData<typeof loader>();
  return (
    <Shell userName={name} orgName={orgName} isAdmin={isAdmin}>
      <main>
        <h1>My Profile · Settings</h1>
        <nav className="tabs" aria-label="Settings">
          {tabs.map(([to, label]) => (
            <NavLink key={to} to={to} end>
              {label}
            </NavLink>
          ))}
        </nav>
        <Outlet />
      </main>
    </Shell>
  );
}
