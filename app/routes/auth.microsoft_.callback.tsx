// Not nested under auth.microsoft.tsx (the trailing underscore): that route redirects GETs to /login.
import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { clientAddress } from "~/lib/context.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { proveOwnership, type OwnershipFailure } from "~/lib/integrations.server.ts";
import { browserBinding } from "~/lib/microsoft/flow-cookie.server.ts";
import { getSession } from "~/lib/session.server.ts";
import { completeMicrosoft, type MicrosoftFailure } from "~/lib/signin/microsoft.server.ts";

export const meta: MetaFunction = () => [{ title: "Microsoft sign-in" }];

type Problem = { title: string; message: string; next: { to: string; label: string } };

const problems = {
  cancelled: {
    title: "Microsoft sign-in was cancelled",
    message: "You left Microsoft's sign-in page before finishing. Nothing was changed.",
    next: { to: "/login", label: "Back to sign in" },
  },
  expired: {
    title: "This sign-in has expired",
    message: "The answer from Microsoft was too old, already used, or meant for another browser. Nothing was changed; start again.",
    next: { to: "/login", label: "Start again" },
  },
  notConnected: {
    title: "This Microsoft account isn't connected to an account here",
    message: "Sign in with the Microsoft account linked to your portal account, or sign in with your password.",
    next: { to: "/login", label: "Back to sign in" },
  },
  notVerified: {
    title: "Microsoft's answer could not be verified",
    message: "For your security you were not signed in. Start again; if it keeps happening, tell your administrator.",
    next: { to: "/login", label: "Start again" },
  },
  unavailable: {
    title: "Microsoft sign-in is unavailable",
    message: "Microsoft did not answer in time. Try again in a few minutes. People who sign in with a password are not affected.",
    next: { to: "/login", label: "Back to sign in" },
  },
  notForYou: {
    title: "Microsoft sign-in isn't turned on for your account",
    message: "Your organization has not enabled Microsoft sign-in for you. Sign in with your password instead.",
    next: { to: "/login", label: "Sign in with your password" },
  },
  wrongTenant: {
    title: "That Microsoft account belongs to another organization",
    message: "Sign in at Microsoft with an account of your organization's registered tenant. Nothing was linked.",
    next: { to: "/settings/microsoft", label: "Back to settings" },
  },
  taken: {
    title: "That Microsoft account is linked to someone else",
    message: "A Microsoft account can be linked to one portal account only. Nothing was linked.",
    next: { to: "/settings/microsoft", label: "Back to settings" },
  },
  wrongAccount: {
    title: "That is not the Microsoft account you sign in with",
    message: "Sign in at Microsoft with the account your portal account uses. Nothing was changed.",
    next: { to: "/login", label: "Back to sign in" },
  },
  lockout: {
    title: "Nothing was linked",
    message:
      "You are the last admin who signs in with a password and authenticator app. Confirm on the previous page that you want to sign in with Microsoft only, then try again.",
    next: { to: "/settings/microsoft", label: "Back to settings" },
  },
  notFresh: {
    title: "Microsoft did not confirm a fresh sign-in",
    message: "For your security the change needs a sign-in at Microsoft just now. Nothing was changed; try again and sign in at Microsoft when asked.",
    next: { to: "/settings/microsoft", label: "Back to settings" },
  },
} satisfies Record<string, Problem>;

const ownershipProblems: Record<OwnershipFailure, Omit<Problem, "next">> = {
  not_allowed: {
    title: "This tenant registration can't continue",
    message: "The integration was removed, or you are no longer an admin of your organization. Nothing was changed.",
  },
  wrong_tenant: {
    title: "That Microsoft account is of another tenant",
    message: "Sign in with an admin account of the tenant you are registering. The tenant was not activated.",
  },
  roles_not_in_token: {
    title: "Microsoft did not say which roles this account holds",
    message:
      "The portal's app registration does not send directory roles in its tokens (groupMembershipClaims). Tell whoever runs this portal; the README says what to set. The tenant was not activated.",
  },
  not_tenant_admin: {
    title: "That Microsoft account is not an admin of the tenant",
    message:
      "Registering a tenant needs a sign-in by one of its Global Administrators, Privileged Role Administrators, Cloud Application Administrators or Application Administrators. Ask one of them to sign in here. The tenant was not activated.",
  },
  claimed_by_other_org: {
    title: "That tenant belongs to another organization",
    message:
      "An admin of the tenant already registered it for another organization. A tenant can belong to one organization only; contact support if it should be yours.",
  },
};

async function ownershipAnswer(outcome: Extract<Awaited<ReturnType<typeof completeMicrosoft>>, { kind: "tenant_admin" }>, address: string) {
  const result = await proveOwnership(outcome.session, outcome.flow, outcome.identity, address);
  const back = {
    to: outcome.flow.integrationId ? `/admin/integrations/${outcome.flow.integrationId}` : "/admin/integrations",
    label: "Back to the integration",
  };
  if (result.kind === "failed") return { problem: { ...ownershipProblems[result.code], next: back }, code: result.code };
  const message = {
    active: "Ownership proven: you signed in as an admin of the tenant, and the integration is active.",
    waiting: "Ownership proven. Microsoft has not confirmed consent yet: check again in a minute.",
    unavailable: "Ownership proven. Microsoft could not be reached to confirm consent: check again in a few minutes.",
    confirm_lockout:
      "Ownership proven and consent granted, but activating this tenant would leave no admin who can sign in with a password and authenticator app. Confirm on this page to activate it.",
    ownership_needed: "The sign-in did not prove ownership. Try again.",
  }[result.kind];
  return redirect(`/admin/integrations/${result.integration.id}`, { headers: { "Set-Cookie": await setFlash(message) } });
}

const PROBLEM: Record<MicrosoftFailure, keyof typeof problems> = {
  cancelled: "cancelled",
  state_unknown: "expired",
  token_invalid: "notVerified",
  microsoft_unavailable: "unavailable",
  identity_unknown: "notConnected",
  method_not_microsoft: "notForYou",
  identity_not_expected: "wrongAccount",
  tenant_not_active: "wrongTenant",
  identity_taken: "taken",
  already_linked: "taken",
  lockout_not_confirmed: "lockout",
  reauth_not_fresh: "notFresh",
};

export async function loader({ request, context }: LoaderFunctionArgs) {
  const address = clientAddress(context);
  const session = await getSession(request);
  const active = session?.stage === "active" ? session : null;
  const outcome = await completeMicrosoft({
    request,
    query: new URL(request.url).searchParams,
    session: active,
    browserBinding: await browserBinding(request),
    address,
  });
  if (outcome.kind === "signed_in") return redirect(outcome.next.location, { headers: { "Set-Cookie": outcome.next.setCookie } });
  if (outcome.kind === "linked") {
    const removed = outcome.passwordRemoved ? " Your password was removed: Microsoft replaces it." : "";
    const flash = await setFlash(`Your Microsoft account is linked. From now on, sign in with Microsoft.${removed}`);
    return redirect("/settings/microsoft", { headers: { "Set-Cookie": flash } });
  }
  if (outcome.kind === "reauthenticated") return redirect(outcome.returnTo, { headers: { "Set-Cookie": await setFlash("Thanks, that's confirmed.") } });
  if (outcome.kind === "tenant_admin") return ownershipAnswer(outcome, address);
  const problem = problems[PROBLEM[outcome.code]];
  // Inside a session (link, re-authentication), the way on is back to the settings page.
  if (active && outcome.purpose === "tenant_admin")
    return { problem: { ...problem, next: { to: "/admin/integrations", label: "Back to Microsoft integrations" } }, code: outcome.code };
  const inSession = active && (outcome.purpose === "link" || outcome.purpose === "reauth" || outcome.code === "state_unknown");
  return { problem: inSession ? { ...problem, next: { to: "/settings/microsoft", label: "Back to settings" } } : problem, code: outcome.code };
}

export default function MicrosoftCallback() {
  const { problem } = useLoaderData<typeof loader>() as { problem: Problem };
  return (
    <main className="narrow">
      <h1>{problem.title}</h1>
      <div className="card">
        <p role="alert">{problem.message}</p>
        <p>
          <Link className="button" to={problem.next.to}>
            {problem.next.label}
          </Link>
        </p>
      </div>
    </main>
  );
}
