import type { LoaderFunctionArgs } from "@remix-run/node";
import { NavLink, Outlet, useLoaderData } from "@remix-run/react";
import { Shell } from "~/components/shell.tsx";
import { shellOf } from "~/lib/profile.server.ts";
import { requireUser } from "~/lib/session.server.ts";

export async function loader({ request }: LoaderFunctionArgs) {
  return shellOf(await requireUser(request));
}

// The password, authenticator and recovery-code tabs belong to password sign-in: a Microsoft user has none.
const tabs = [
  ["/settings", "Profile", true],
  ["/settings/password", "Password", false],
  ["/settings/two-factor", "Authenticator app", false],
  ["/settings/recovery-codes", "Recovery codes", false],
  ["/settings/sessions", "Sessions", true],
  ["/settings/microsoft", "Microsoft account", true],
] as const;

export default function Settings() {
  const { name, orgName, isAdmin, method } = useLoaderData<typeof loader>();
  return (
    <Shell userName={name} orgName={orgName} isAdmin={isAdmin}>
      <main>
        <h1>My Profile · Settings</h1>
        <nav className="tabs" aria-label="Settings">
          {tabs
            .filter(([, , always]) => always || method !== "microsoft")
            .map(([to, label]) => (
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
