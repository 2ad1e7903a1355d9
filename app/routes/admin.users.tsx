import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { db } from "~/lib/db.server.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { removeLink } from "~/lib/links.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { previewChange } from "~/lib/previews.server.ts";
import { setPasswordOutcome } from "~/lib/set-password.server.ts";
import { signInStrategyFor } from "~/lib/sign-in-method.server.ts";

export const meta: MetaFunction = () => [{ title: "Users" }];

const methodLabel = { microsoft: "Microsoft", password: "Password + TOTP", none: "None — needs action" } as const;

export async function loader({ request }: LoaderFunctionArgs) {
  const { user: admin } = await requireAdmin(request);
  const users = await db.user.findMany({ where: { orgId: admin.orgId }, orderBy: { name: "asc" }, take: 500, include: { microsoftLink: true } });
  return {
    users: await Promise.all(
      users.map(async (u) => {
        const strategy = await signInStrategyFor(u);
        return {
          id: u.id,
          name: u.name,
          email: u.email,
          phone: u.phone,
          role: u.role,
          source: u.source,
          status: u.status,
          method: strategy.method,
          hasPassword: Boolean(u.passwordHash),
          link: u.microsoftLink ? { upn: u.microsoftLink.upn, tenantId: u.microsoftLink.tenantId, since: u.microsoftLink.createdAt.toISOString() } : null,
        };
      }),
    ),
  };
}

const schema = z.object({
  intent: z.literal("revoke", { error: "Choose an action on this page." }),
  userId: z.string().min(1).max(64),
  sendLink: z.literal("yes").optional(),
});

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireAdmin(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ error: Object.values(parsed.errors)[0] }, { status: 400 });
  // Org isolation: the user must belong to the admin's organization.
  const user = await db.user.findFirst({ where: { id: parsed.data.userId, orgId: session.user.orgId } });
  if (!user) throw new Response("Not found", { status: 404 });
  const preview = await previewChange(session.user.orgId, { kind: "link", userId: user.id });
  if (!(await removeLink(user, session.userId, clientAddress(context)))) return data({ error: `${user.name} has no linked Microsoft account.` }, { status: 400 });
  let message = `The Microsoft link of ${user.name} was revoked and their Microsoft sessions ended.`;
  if (preview.toNone.length) message += ` ${await setPasswordOutcome(session, preview.toNone, parsed.data.sendLink === "yes")}`;
  return redirect("/admin/users", { headers: { "Set-Cookie": await setFlash(message) } });
}

export default function Users() {
  const { users } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      <FormError message={result?.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Sign-in method</th>
              <th scope="col">Microsoft account</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id} data-testid={`user-${u.email ?? u.id}`}>
                <td>
                  {u.name}
                  {u.role === "admin" ? " (admin)" : ""}
                  <div className="hint">{u.email ?? u.phone ?? "no email or phone"}</div>
                </td>
                <td>
                  <strong>{methodLabel[u.method]}</strong>
                  {u.source === "synced" ? <div className="hint">Synced from Entra ID</div> : null}
                </td>
                <td>
                  {u.link ? (
                    <Form method="post">
                      <span>{u.link.upn ?? u.link.tenantId}</span>
                      <input type="hidden" name="userId" value={u.id} />
                      {!u.hasPassword ? (
                        <>
                          <p className="hint">Revoking leaves {u.name} with no way to sign in (no password).</p>
                          <label>
                            <input type="checkbox" name="sendLink" value="yes" defaultChecked /> Email a set-password link
                          </label>
                        </>
                      ) : null}
                      <Submit name="intent" value="revoke" className="secondary">
                        Revoke link<span className="visually-hidden"> of {u.name}</span>
                      </Submit>
                    </Form>
                  ) : (
                    "—"
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
