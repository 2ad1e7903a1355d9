import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { Shell } from "~/components/shell.tsx";
import { db } from "~/lib/db.server.ts";
import { requireUser } from "~/lib/session.server.ts";

export const meta: MetaFunction = () => [{ title: "Portal" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireUser(request);
  const org = await db.organization.findUniqueOrThrow({ where: { id: user.orgId }, select: { name: true } });
  return { name: user.name, orgName: org.name, isAdmin: user.role === "admin" };
}

export default function Home() {
  const { name, orgName, isAdmin } = useLoaderData<typeof loader>();
  return (
    <Shell userName={name} orgName={orgName} isAdmin={isAdmin}>
      <main>
        <h1>Welcome, {name}</h1>
        <div className="card">
          <p>You're signed in to {orgName}.</p>
          <p>
            <Link to="/settings">My Profile → Settings</Link>: your password, authenticator app, recovery codes and where you're signed in.
          </p>
        </div>
      </main>
    </Shell>
  );
}
