import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { FormError, Submit } from "~/components/form.tsx";
import { clientAddress } from "~/lib/context.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { parseForm } from "~/lib/forms.ts";
import { linkOf, unlinkSelf } from "~/lib/links.server.ts";
import { MicrosoftUnavailableError } from "~/lib/microsoft/http.server.ts";
import { linkingLocksOut, startLink } from "~/lib/signin/microsoft.server.ts";
import { freshness } from "~/lib/signin/step-up.server.ts";
import { LockoutConfirm } from "~/components/switch-preview.tsx";
import { requireUser } from "~/lib/session.server.ts";
import { linkOfferIgnoringDecline, signInStrategyFor } from "~/lib/signin/methods.server.ts";

export const meta: MetaFunction = () => [{ title: "Microsoft account" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await requireUser(request);
  const [strategy, link, fresh, canLink] = await Promise.all([
    signInStrategyFor(session.user),
    linkOf(session.userId),
    freshness(session),
    linkOfferIgnoringDecline(session.user),
  ]);
  return {
    confirmUnlink: Boolean(link) && new URL(request.url).searchParams.get("confirm") === "unlink",
    method: strategy.method,
    canUnlink: strategy.canUnlink || Boolean(link),
    canLink: !link && canLink,
    declined: session.user.linkPrompt === "declined",
    recent: fresh.recent,
    lockout: !link && canLink ? await linkingLocksOut(session.user) : false,
    link: link
      ? {
          name: link.displayName,
          upn: link.upn,
          tenantId: link.tenantId,
          tenantName: link.integration.displayName,
          since: link.createdAt.toISOString(),
          active: link.integration.status === "active",
        }
      : null,
  };
}

const schema = z.object({
  intent: z.enum(["link", "unlink"], { error: "Choose an action on this page." }),
  lockoutConfirmed: z.literal("yes").optional(),
  confirmed: z.literal("yes").optional(),
});

const CONFIRM = `/settings/confirm?redirectTo=${encodeURIComponent("/settings/microsoft")}`;

export async function action({ request, context }: ActionFunctionArgs) {
  const session = await requireUser(request);
  const parsed = parseForm(await request.formData(), schema);
  if (!parsed.ok) return data({ error: Object.values(parsed.errors)[0] }, { status: 400 });
  const address = clientAddress(context);
  const back = "/settings/microsoft";
  const lockoutConfirmed = parsed.data.lockoutConfirmed === "yes";
  try {
    if (parsed.data.intent === "link") {
      const start = await startLink(session, back, { lockoutConfirmed, ignoreDecline: true });
      if (start.kind === "redirect") return redirect(start.url);
      if (start.kind === "step_up") return redirect(CONFIRM);
      if (start.kind === "confirm_lockout")
        return data(
          { error: "You are the last admin who signs in with a password: tick the box to confirm you will sign in with Microsoft only." },
          { status: 409 },
        );
      return data({ error: "Linking a Microsoft account isn't available for your account right now." }, { status: 400 });
    }
    // Unlinking asks first: without the confirmation page's explicit yes nothing changes.
    if (parsed.data.confirmed !== "yes") return redirect(`${back}?confirm=unlink`);
    const result = await unlinkSelf(session, address, { lockoutConfirmed });
    if (result.kind === "step_up") return redirect(CONFIRM);
    if (result.kind === "not_linked") return data({ error: "There is no linked Microsoft account." }, { status: 400 });
    if (result.kind === "confirm_lockout")
      return data(
        {
          error: "You are the last admin who could sign in: unlinking leaves you with no way in until you set a password. Tick the box to unlink anyway.",
          lockout: true,
        },
        { status: 409 },
      );
    const next =
      result.to === "password"
        ? "Next time, sign in with your password and authenticator code."
        : result.emailedTo
          ? `You have no password yet: we've emailed a link to set one to ${result.emailedTo}.`
          : "You have no password and no email address: ask your administrator for a way to sign in.";
    const flash = await setFlash(`Your Microsoft account is unlinked. ${next}`);
    return redirect(result.signedOut ? "/login" : back, { headers: { "Set-Cookie": flash } });
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
          <p>{s.method === "microsoft" ? "You sign in with this Microsoft account; it replaces your password." : null}</p>
          {s.recent && s.confirmUnlink ? (
            <Form method="post" aria-labelledby="unlink-heading" data-testid="unlink-confirm">
              <h3 id="unlink-heading">Unlink your Microsoft account?</h3>
              <p>
                After unlinking you sign in with a password and authenticator code; if you have no password yet, we email you a link to set one. You will be
                signed out.
              </p>
              {result && "lockout" in result && result.lockout ? (
                <label>
                  <input type="checkbox" name="lockoutConfirmed" value="yes" /> I understand: unlink anyway, and set a password afterwards
                </label>
              ) : null}
              <input type="hidden" name="confirmed" value="yes" />
              <div className="row">
                <Submit name="intent" value="unlink" className="danger" pendingText="Unlinking…">
                  Unlink Microsoft account
                </Submit>
                <Link to="/settings/microsoft">Cancel</Link>
              </div>
            </Form>
          ) : s.recent ? (
            <p>
              <Link className="button secondary" to="/settings/microsoft?confirm=unlink">
                Unlink Microsoft account…
              </Link>
            </p>
          ) : (
            <p>
              To unlink, first <Link to={`/settings/confirm?redirectTo=${encodeURIComponent("/settings/microsoft")}`}>confirm it's you</Link>.
            </p>
          )}
        </>
      ) : (
        <>
          <p>
            No Microsoft account is linked. You sign in with{" "}
            {s.method === "password" ? "your password and authenticator code" : "the method your organization set"}.
          </p>
          {s.canLink ? (
            <Form method="post">
              {s.declined ? <p className="hint">You chose not to be asked after sign-in. You can still link here.</p> : null}
              {s.lockout ? <LockoutConfirm self /> : null}
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
