import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { appSessionsOf, endOwnSessions, sessionsOf } from "~/lib/profile.server.ts";
import { requireUser } from "~/lib/session.server.ts";
import { DataTable } from "~/components/data-table.tsx";
import { AppSessions } from "~/components/app-sessions.tsx";
import { count as countOf } from "~/lib/wording.ts";

export const meta: MetaFunction = () => [{ title: "Sessions" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await requireUser(request);
  const [sessions, apps] = await Promise.all([sessionsOf(session), appSessionsOf(session.userId)]);
  return { sessions, apps };
}

const schema = z.discriminatedUnion(
  "intent",
  [
    z.object({ intent: z.literal("end"), handle: z.string().regex(/^[0-9a-f]{16}$/, "Choose a session from the list.") }),
    z.object({ intent: z.literal("end-app"), grantId: z.string().regex(/^[\w-]{10,64}$/, "Choose an app from the list.") }),
    z.object({ intent: z.literal("end-others") }),
  ],
  { error: "Choose what to sign out." },
);

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireUser(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ formError: Object.values(parsed.errors)[0] }, { status: 400 });
  const form = parsed.data;
  const which = form.intent === "end-others" ? "others" : form.intent === "end-app" ? { grantId: form.grantId } : { handle: form.handle };
  const count = await endOwnSessions(session, which, clientAddress(context));
  if (!count && form.intent !== "end-others") return data({ formError: "That session has already ended or isn't yours." }, { status: 400 });
  const flash = await setFlash(`Signed out ${countOf(count, "session")}.`);
  return redirect("/settings/sessions", { headers: { "Set-Cookie": flash } });
}

export default function Sessions() {
  const { sessions, apps } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const others = sessions.filter((s) => !s.current).length + apps.length;
  return (
    <section className="card" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Where you're signed in</h2>
      <FormError message={result?.formError} />
      <DataTable columns={["Device", "Signed in with", "Last seen", <span className="visually-hidden">Action</span>]}>
        {sessions.map((s) => (
          <tr key={s.handle}>
            <td>
              {s.device}
              {s.ipAddress ? <div className="hint">{s.ipAddress}</div> : null}
            </td>
            <td>{s.method}</td>
            <td>{new Date(s.lastSeenAt).toUTCString()}</td>
            <td>
              {s.current ? (
                <strong>This device</strong>
              ) : (
                <Form method="post">
                  <input type="hidden" name="handle" value={s.handle} />
                  <Submit name="intent" value="end" className="secondary">
                    Sign out<span className="visually-hidden"> {s.device}</span>
                  </Submit>
                </Form>
              )}
            </td>
          </tr>
        ))}
      </DataTable>
      <h3>Apps</h3>
      {apps.length ? <AppSessions apps={apps} /> : <p className="hint">No app is signed in with your account.</p>}
      {others > 0 ? (
        <Form method="post">
          <Submit name="intent" value="end-others" pendingText="Signing out…">
            Sign out all other sessions ({others})
          </Submit>
        </Form>
      ) : (
        <p className="hint">You're not signed in anywhere else.</p>
      )}
    </section>
  );
}
