import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { profileOf } from "~/lib/profile.server.ts";
import { requireUser } from "~/lib/session.server.ts";

export const meta: MetaFunction = () => [{ title: "My Profile" }];

export async function loader({ request }: LoaderFunctionArgs) {
  return profileOf(await requireUser(request));
}

export default function Profile() {
  const p = useLoaderData<typeof loader>();
  return (
    <div className="card">
      <dl>
        <dt>Name</dt>
        <dd>{p.name}</dd>
        <dt>Email address</dt>
        <dd>{p.email ?? "—"}</dd>
        <dt>Mobile number</dt>
        <dd>{p.phone ?? "—"}</dd>
        <dt>Role</dt>
        <dd>{p.role === "admin" ? "Administrator" : "Member"}</dd>
        <dt>How you sign in</dt>
        <dd>{p.howYouSignIn}</dd>
        {p.method === "password" ? (
          <>
            <dt>Password last changed</dt>
            <dd>{p.passwordChangedAt ? new Date(p.passwordChangedAt).toUTCString() : "—"}</dd>
          </>
        ) : null}
      </dl>
    </div>
  );
}
