import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { Shell } from "~/components/shell.tsx";
import { shellOf } from "~/lib/profile.server.ts";
import { requireUser } from "~/lib/session.server.ts";

export const meta: MetaFunction = () => [{ title: "Portal" }];

export async function loader({ request }: LoaderFunctionArgs) {
  return shellOf(await requireUser(request));
}

export default function Home() {
  const { name, orgName, isAdmin, method } = useLoaderData<typeof loader>();
  return (
    <Shell userName={name} orgName={orgName} isAdmin={isAdmin}>
      <main>
        <h1>Welcome, {name}</h1>
        <div className="card">
          <p>You're signed in to {orgName}.</p>
          <p>
            <Link to="/settings">My Profile → Settings</Link>:{" "}
            {method === "microsoft"
              ? "your Microsoft account and where you're signed in."
              : "your password, authenticator app, recovery codes and where you're signed in."}
          </p>
        </div>
      </main>
    </Shell>
  );
}
