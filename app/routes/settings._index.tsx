import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { requireUser } from "~/lib/session.server.ts";

export const meta: MetaFunction = () => [{ title: "My Profile" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireUser(request);
  return {
    name: user.name,
    email: user.email,
    phone: user.phone,
    role: user.role,
    passwordChangedAt: user.passwordChangedAt?.toISOString() ?? null,
    totp: Boolean(user.totpEnrolledAt),
  };
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
        <dd>Password and a code from your authenticator app{p.totp ? "" : " (not set up yet)"}</dd>
        <dt>Password last changed</dt>
        <dd>{p.passwordChangedAt ? new Date(p.passwordChangedAt).toUTCString() : "—"}</dd>
      </dl>
    </div>
  );
}
