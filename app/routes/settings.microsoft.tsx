import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { db } from "~/lib/db.server.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { isRecentlyAuthenticated, linkOf, removeLink, RECENT_AUTH_MINUTES } from "~/lib/links.server.ts";
import { MicrosoftUnavailableError } from "~/lib/microsoft/http.server.ts";
import { microsoftLinkFor, microsoftReauthFor } from "~/lib/microsoft/start.server.ts";
import { requireUser } from "~/lib/session.server.ts";
import { sendSetPasswordLinks } from "~/lib/set-password.server.ts";
import { signInStrategyFor } from "~/lib/sign-in-method.server.ts";

export const meta: MetaFunction = () => [{ title: "Microsoft account" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await requireUser(request);
  const [strategy, link] = await Promise.all([signInStrategyFor(session.user), linkOf(session.userId)]);
  const declined = session.user.linkPrompt === "declined";
  return {
    method: strategy.method,
    canUnlink: strategy.canUnlink || Boolean(link),
    canLink: !link && (strategy.offerLink || (declined && (await signInStrategyFor({ ...session.user, linkPrompt: "ask" })).offerLink)),
    declined,
    hasPassword: Boolean(session.user.passwordHash),
    recent: isRecentlyAuthenticated(session.authenticatedAt),
    link: link
      ? { name: link.displayName, upn: link.upn, tenantId: link.tenantId, tenantName: link.integration.displayName, since: link.createdAt.toISOString(), active: link.integration.status === "active" }
      : null,
  };
}

const schema = z.object({ intent: z.enum(["link", "reauth", "unlink", "send-set-password"], { error: "Choose an action on this page." }) });

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireUser(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ error: Object.values(parsed.errors)[0] }, { status: 400 });
  const address = clientAddress(context);
  const back = "/settings/microsoft";
  try {
    switch (parsed.data.intent) {
      case "link": {
        if (session.user.linkPrompt === "declined") await db.user.update({ where: { id: session.userId }, data: { linkPrompt: "ask" } });
        const user = { ...session.user, linkPrompt: "ask" };
        if (!(await signInStrategyFor(user)).offerLink) return data({ error: "Linking a Microsoft account isn't available for your account right now." }, { status: 400 });
        return redirect(await microsoftLinkFor({ ...session, user }, back));
      }
      case "reauth": {
        const url = await microsoftReauthFor(session, back);
        return url ? redirect(url) : data({ error: "There is no Microsoft account to confirm with." }, { status: 400 });
      }
      case "unlink": {
        if (!session.user.passwordHash) return data({ error: "You have no password yet, so unlinking would leave you unable to sign in. Set a password first." }, { status: 400 });
        if (!isRecentlyAuthenticated(session.authenticatedAt)) {
          return data({ error: `For your security, confirm it's you first: sign in with Microsoft again (needed within ${RECENT_AUTH_MINUTES} minutes of unlinking).` }, { status: 403 });
        }
        if (!(await removeLink(session.user, session.userId, address, session.id))) return data({ error: "There is no linked Microsoft account." }, { status: 400 });
        return redirect(back, { headers: { "Set-Cookie": await setFlash("Your Microsoft account is unlinked. Next time, sign in with your password and authenticator code.") } });
      }
      case "send-set-password": {
        const sent = await sendSetPasswordLinks(session.user.orgId, [session.userId], session.userId);
        const message = sent.sent.length ? `We've emailed a link to set your password to ${sent.sent[0]}.` : "Your account has no email address; ask your administrator.";
        return redirect(back, { headers: { "Set-Cookie": await setFlash(message) } });
      }
    }
  } catch (error) {
    if (!(error instanceof MicrosoftUnavailableError)) throw error;
    return data({ error: "Microsoft is unavailable right now. Try again in a few minutes." }, { status: 503 });
  }
}

export default function MicrosoftAccount() {
  const s = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <section className="card" aria-labelledby="ms-heading">
      <h2 id="ms-heading">Microsoft account</h2>
      <FormError message={result?.error} />
      {s.link ? (
        <>
          <dl>
            <dt>Linked account</dt>
            <dd>
              {s.link.name ?? "—"} {s.link.upn ? `(${s.link.upn})` : null}
            </dd>
            <dt>Tenant</dt>
            <dd>
              {s.link.tenantName ?? s.link.tenantId}
              {s.link.active ? null : " — this tenant's integration is not active, so you sign in with your password for now"}
            </dd>
            <dt>Linked since</dt>
            <dd>{new Date(s.link.since).toUTCString()}</dd>
          </dl>
          <p>{s.method === "microsoft" ? "You sign in with this Microsoft account; your password is not accepted while the link exists." : null}</p>
          {!s.hasPassword ? (
            <>
              <p>You have no password yet, so you can't unlink: you would have no way to sign in.</p>
              <Form method="post">
                <Submit name="intent" value="send-set-password" pendingText="Sending…">
                  Email me a link to set a password
                </Submit>
              </Form>
            </>
          ) : s.recent ? (
            <Form method="post">
              <p>After unlinking you sign in with your password and authenticator code again.</p>
              <Submit name="intent" value="unlink" className="danger" pendingText="Unlinking…">
                Unlink Microsoft account
              </Submit>
            </Form>
          ) : (
            <Form method="post">
              <p>To unlink, first confirm it's you with Microsoft.</p>
              <Submit name="intent" value="reauth" pendingText="Going to Microsoft…">
                Confirm with Microsoft
              </Submit>
            </Form>
          )}
        </>
      ) : (
        <>
          <p>No Microsoft account is linked. You sign in with {s.method === "password" ? "your password and authenticator code" : "the method your organization set"}.</p>
          {s.canLink ? (
            <Form method="post">
              {s.declined ? <p className="hint">You chose not to be asked after sign-in. You can still link here.</p> : null}
              <Submit name="intent" value="link" pendingText="Going to Microsoft…">
                Link my Microsoft account
              </Submit>
            </Form>
          ) : null}
        </>
      )}
    </section>
  );
}
