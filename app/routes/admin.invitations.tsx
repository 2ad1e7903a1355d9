import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Field, FormError, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { IDENTIFIER_MAX, parseIdentifier } from "~/lib/identifier.ts";
import { inviteNewUser, listInvitations, listNotInvited, resendInvitation, revokeInvitation, type InvitationStatus } from "~/lib/invitations.server.ts";
import { linkLifetime } from "~/lib/link-lifetimes.ts";
import { count, plural } from "~/lib/wording.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { DataTable } from "~/components/data-table.tsx";

export const meta: MetaFunction = () => [{ title: "Invitations" }];

// The "never invited" list can hold every synced user of a large tenant: searched and paged in the URL, so it
// works without JavaScript and a link keeps the search.
const querySchema = z.object({
  q: z.string().trim().max(100).catch(""),
  after: z.string().max(64).nullable().catch(null),
});

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const search = new URL(request.url).searchParams;
  const query = querySchema.parse({ q: search.get("q") ?? "", after: search.get("after") });
  const [{ invitations }, notInvited] = await Promise.all([listInvitations(user.orgId), listNotInvited(user.orgId, query)]);
  return {
    invitations,
    notInvited: notInvited.rows,
    notInvitedTotal: notInvited.total,
    next: notInvited.next,
    q: query.q,
    paged: Boolean(query.after),
    lifetime: linkLifetime("invitation"),
  };
}

// Letters of any script, digits, spaces and the punctuation names use; no markup, quotes or control characters.
const NAME_CHARACTERS = /^[\p{L}\p{M}\p{N} .,'’()-]+$/u;

const userId = z.string({ error: "Choose a user in the list." }).min(1, "Choose a user in the list.").max(64, "Choose a user in the list.");

const schema = z.discriminatedUnion(
  "intent",
  [
    z.object({
      intent: z.literal("invite"),
      email: z
        .string({ error: "Enter the email address of the person to invite." })
        .trim()
        .min(1, "Enter the email address of the person to invite.")
        .max(IDENTIFIER_MAX, `An email address has at most ${IDENTIFIER_MAX} characters.`)
        .transform((value, ctx) => {
          const parsed = parseIdentifier(value);
          if (parsed?.kind === "email") return parsed.value;
          ctx.addIssue({ code: "custom", message: "Enter a valid email address, such as ada@example.com (letters, digits and . _ + - before the @)." });
          return z.NEVER;
        }),
      name: z
        .string({ error: "Enter the person's name." })
        .normalize("NFC")
        .trim()
        .min(1, "Enter the person's name.")
        .max(100, "Use at most 100 characters for the name.")
        .regex(NAME_CHARACTERS, "Use letters, digits, spaces and . , ' - ( ) in the name."),
      role: z.enum(["member", "admin"], { error: "Choose Member or Admin." }),
    }),
    z.object({ intent: z.literal("resend"), userId }),
    z.object({ intent: z.literal("revoke"), userId }),
  ],
  { error: "Choose an action on this page." },
);

type ActionData = { errors: Record<string, string>; values: { email: string; name: string; role: string } };

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireAdmin(request);
  const form = await request.formData();
  const typed = (key: string, max: number) => {
    const value = form.get(key);
    return typeof value === "string" ? value.slice(0, max) : "";
  };
  const values = { email: typed("email", IDENTIFIER_MAX), name: typed("name", 100), role: typed("role", 10) };
  const parsed = parseForm(form, schema);
  if (!parsed.ok) return data<ActionData>({ errors: parsed.errors, values }, { status: 400 });
  const address = clientAddress(context);

  if (parsed.data.intent === "invite") {
    const result = await inviteNewUser(session, parsed.data, address);
    if (!result.ok) return data<ActionData>({ errors: result.errors, values }, { status: 400 });
    const flash = await setFlash(`Invitation sent to ${result.user.email}. The link works once, for ${linkLifetime("invitation")}.`);
    return redirect("/admin/invitations", { headers: { "Set-Cookie": flash } });
  }
  const run = parsed.data.intent === "resend" ? resendInvitation : revokeInvitation;
  const outcome = await run(session, parsed.data.userId, address);
  // Org isolation: a user of another organization does not exist as far as this admin can tell.
  if (!outcome) throw new Response("Not found", { status: 404 });
  if (!outcome.ok) return data<ActionData>({ errors: { list: outcome.error }, values }, { status: 400 });
  return redirect("/admin/invitations", { headers: { "Set-Cookie": await setFlash(outcome.message) } });
}

const statusLabel: Record<InvitationStatus, string> = { pending: "Pending", accepted: "Accepted", expired: "Expired", revoked: "Revoked" };
const methodLabel = { microsoft: "Microsoft", password: "Password + TOTP", none: "Password + TOTP (not set yet)" } as const;
const when = (iso: string) => new Date(iso).toUTCString();

export default function Invitations() {
  const { invitations, notInvited, notInvitedTotal, next, q, paged, lifetime } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const errors = result?.errors ?? {};
  const listError = errors.list ?? errors.userId;
  return (
    <>
      <section className="card" aria-labelledby="invite-heading">
        <h2 id="invite-heading">Invite someone</h2>
        <p className="hint">
          They get an email with a link that works once, for {lifetime}. People who sign in with Microsoft are told to use their Microsoft account; everyone
          else chooses a password and then sets up an authenticator app.
        </p>
        <Form method="post" noValidate>
          <FormError message={errors.form ?? errors.intent} />
          <Field
            name="email"
            label="Email address"
            type="email"
            autoComplete="off"
            required
            maxLength={IDENTIFIER_MAX}
            defaultValue={result?.values.email}
            error={errors.email}
          />
          <Field name="name" label="Name" autoComplete="off" required maxLength={100} defaultValue={result?.values.name} error={errors.name} />
          <div>
            <label htmlFor="role">Role</label>
            <select
              id="role"
              name="role"
              defaultValue={result?.values.role === "admin" ? "admin" : "member"}
              aria-invalid={errors.role ? true : undefined}
              aria-describedby={errors.role ? "role-error" : undefined}
            >
              <option value="member">Member</option>
              <option value="admin">Admin</option>
            </select>
            {errors.role ? (
              <p className="field-error" id="role-error">
                {errors.role}
              </p>
            ) : null}
          </div>
          <Submit name="intent" value="invite" pendingText="Sending…">
            Send invitation
          </Submit>
        </Form>
      </section>

      <section aria-labelledby="invitations-heading">
        <h2 id="invitations-heading">Invitations</h2>
        <FormError message={listError} />
        {invitations.length === 0 ? (
          <p>No invitations yet.</p>
        ) : (
          <DataTable columns={["Person", "Signs in with", "Status", "Actions"]}>
            {invitations.map((i) => (
              <tr key={i.userId} data-testid={`invitation-${i.email ?? i.userId}`}>
                <td>
                  {i.name}
                  {i.role === "admin" ? " (admin)" : ""}
                  <div className="hint">{i.email}</div>
                </td>
                <td>{methodLabel[i.method]}</td>
                <td>
                  <strong className={`status status-${i.status}`}>{statusLabel[i.status]}</strong>
                  <div className="hint">Sent {when(i.sentAt)}</div>
                  {i.status === "pending" ? <div className="hint">Expires {when(i.expiresAt)}</div> : null}
                  {i.status === "expired" ? <div className="hint">Expired {when(i.expiresAt)}</div> : null}
                </td>
                <td>
                  {i.status === "accepted" ? (
                    "—"
                  ) : (
                    <div className="row">
                      <Form method="post">
                        <input type="hidden" name="userId" value={i.userId} />
                        <Submit name="intent" value="resend" className="secondary">
                          {i.status === "revoked" ? "Invite again" : "Resend"}
                          <span className="visually-hidden"> invitation to {i.name}</span>
                        </Submit>
                      </Form>
                      {i.status === "revoked" ? null : (
                        <Form method="post">
                          <input type="hidden" name="userId" value={i.userId} />
                          <Submit name="intent" value="revoke" className="danger">
                            Revoke<span className="visually-hidden"> invitation to {i.name}</span>
                          </Submit>
                        </Form>
                      )}
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>

      {notInvitedTotal || q || paged ? (
        <section aria-labelledby="not-invited-heading" id="not-invited">
          <h2 id="not-invited-heading">Users without a password who were never invited</h2>
          <p className="hint">For example users from Entra ID Sync. An invitation tells each of them how they sign in.</p>
          <Form method="get" className="row" role="search" action="/admin/invitations#not-invited">
            <div>
              <label htmlFor="q">Name or email</label>
              <input id="q" name="q" type="search" defaultValue={q} maxLength={100} />
            </div>
            <button type="submit" className="secondary">
              Search
            </button>
          </Form>
          <p data-testid="not-invited-count">
            {notInvitedTotal === 0
              ? q
                ? `Nobody matches “${q}”.`
                : "Nobody left to invite."
              : `${count(notInvitedTotal, "user")} ${q ? `${plural(notInvitedTotal, "matches", "match")} “${q}”` : "never invited"}${
                  notInvitedTotal > notInvited.length || paged ? `; this page shows ${notInvited.length}, by name` : ""
                }.`}
          </p>
          {notInvited.length ? (
            <DataTable columns={["Person", "Signs in with", "Actions"]}>
              {notInvited.map((u) => (
                <tr key={u.userId} data-testid={`not-invited-${u.email ?? u.userId}`}>
                  <td>
                    {u.name}
                    <div className="hint">
                      {u.email}
                      {u.source === "synced" ? " · synced from Entra ID" : ""}
                    </div>
                  </td>
                  <td>{u.method === "microsoft" ? "Microsoft" : "None yet — needs an invitation"}</td>
                  <td>
                    <Form method="post">
                      <input type="hidden" name="userId" value={u.userId} />
                      <Submit name="intent" value="resend" className="secondary">
                        Send invitation<span className="visually-hidden"> to {u.name}</span>
                      </Submit>
                    </Form>
                  </td>
                </tr>
              ))}
            </DataTable>
          ) : null}
          <nav className="row" aria-label="Pages of users never invited">
            {paged ? <Link to={`/admin/invitations?${new URLSearchParams(q ? { q } : {})}#not-invited`}>← First page</Link> : null}
            {next ? <Link to={`/admin/invitations?${new URLSearchParams({ ...(q ? { q } : {}), after: next })}#not-invited`}>Next page →</Link> : null}
          </nav>
        </section>
      ) : null}
    </>
  );
}
