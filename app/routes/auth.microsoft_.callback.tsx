// Not nested under auth.microsoft.tsx (the trailing underscore): that route redirects GETs to /login.
import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { audit } from "~/lib/audit.server.ts";
import { clientAddress } from "~/lib/context.ts";
import { db } from "~/lib/db.server.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { createLink } from "~/lib/links.server.ts";
import { browserBinding } from "~/lib/microsoft/flow-cookie.server.ts";
import { completeMicrosoftFlow } from "~/lib/microsoft/signin.server.ts";
import { safeRedirectPath } from "~/lib/security.server.ts";
import { getSession, startSession } from "~/lib/session.server.ts";
import { microsoftIdentityOf, signInStrategyFor, userForMicrosoftIdentity } from "~/lib/sign-in-method.server.ts";

export const meta: MetaFunction = () => [{ title: "Microsoft sign-in" }];

type Problem = { title: string; message: string; next: { to: string; label: string } };

const problems = {
  cancelled: { title: "Microsoft sign-in was cancelled", message: "You left Microsoft's sign-in page before finishing. Nothing was changed.", next: { to: "/login", label: "Back to sign in" } },
  expired: { title: "This sign-in has expired", message: "The answer from Microsoft was too old, already used, or meant for another browser. Nothing was changed; start again.", next: { to: "/login", label: "Start again" } },
  notConnected: { title: "This Microsoft account isn't connected to an account here", message: "Sign in with the Microsoft account linked to your portal account, or sign in with your password.", next: { to: "/login", label: "Back to sign in" } },
  notVerified: { title: "Microsoft's answer could not be verified", message: "For your security you were not signed in. Start again; if it keeps happening, tell your administrator.", next: { to: "/login", label: "Start again" } },
  unavailable: { title: "Microsoft sign-in is unavailable", message: "Microsoft did not answer in time. Try again in a few minutes. People who sign in with a password are not affected.", next: { to: "/login", label: "Back to sign in" } },
  notForYou: { title: "Microsoft sign-in isn't turned on for your account", message: "Your organization has not enabled Microsoft sign-in for you. Sign in with your password instead.", next: { to: "/login", label: "Sign in with your password" } },
  wrongTenant: { title: "That Microsoft account belongs to another organization", message: "Sign in at Microsoft with an account of your organization's registered tenant. Nothing was linked.", next: { to: "/settings/microsoft", label: "Back to settings" } },
  taken: { title: "That Microsoft account is linked to someone else", message: "A Microsoft account can be linked to one portal account only. Nothing was linked.", next: { to: "/settings/microsoft", label: "Back to settings" } },
  wrongAccount: { title: "That is not the Microsoft account you linked", message: "To confirm it's you, sign in with the Microsoft account linked to your portal account.", next: { to: "/settings/microsoft", label: "Back to settings" } },
} satisfies Record<string, Problem>;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const address = clientAddress(context);
  const session = await getSession(request);
  const active = session?.stage === "active" ? session : null;
  const binding = active ? active.id : await browserBinding(request);
  const outcome = await completeMicrosoftFlow(new URL(request.url).searchParams, binding ?? "none");
  const forUser = (problem: Problem) => (active ? { ...problem, next: { to: "/settings/microsoft", label: "Back to settings" } } : problem);

  if (outcome.kind === "cancelled") return { problem: outcome.flow?.purpose === "signin" || !active ? problems.cancelled : forUser(problems.cancelled) };
  if (outcome.kind === "bad_state") return { problem: forUser(problems.expired) };
  if (outcome.kind === "unavailable") return { problem: forUser(problems.unavailable) };
  if (outcome.kind === "invalid_token") {
    await audit({ action: "microsoft.callback", result: "failure", ipAddress: address, detail: { reason: outcome.reason } });
    return { problem: forUser(problems.notVerified) };
  }

  const { flow, identity } = outcome;
  const returnTo = safeRedirectPath(flow.returnTo, "/");

  if (flow.purpose === "signin") {
    const user = await userForMicrosoftIdentity(identity.tenantId, identity.objectId);
    if (!user) {
      await audit({ action: "signin.microsoft.failed", result: "failure", ipAddress: address, detail: { tenantId: identity.tenantId, objectId: identity.objectId, reason: "not connected" } });
      return { problem: problems.notConnected };
    }
    const strategy = await signInStrategyFor(user);
    const expected = await microsoftIdentityOf(user, strategy);
    if (strategy.method !== "microsoft" || expected?.tenantId !== identity.tenantId || expected.objectId !== identity.objectId) {
      await audit({ action: "signin.microsoft.failed", orgId: user.orgId, actorId: user.id, result: "failure", ipAddress: address, detail: { reason: "method is not microsoft" } });
      return { problem: problems.notForYou };
    }
    const cookie = await startSession(request, { userId: user.id, stage: "active", authMethod: "microsoft", microsoftTenantId: identity.tenantId, clientAddress: address });
    await audit({ action: "signin.succeeded", orgId: user.orgId, actorId: user.id, ipAddress: address, detail: { method: "microsoft", tenantId: identity.tenantId } });
    return redirect(returnTo, { headers: { "Set-Cookie": cookie } });
  }

  // Linking and re-authentication happen inside the session that started them.
  if (!active || active.userId !== flow.userId) return { problem: problems.expired };

  if (flow.purpose === "link") {
    const result = await createLink(active.user, identity, address);
    if (!result.ok) return { problem: result.reason === "wrong_tenant" ? problems.wrongTenant : problems.taken };
    const flash = await setFlash("Your Microsoft account is linked. From now on, sign in with Microsoft: your password is no longer accepted while the link exists.");
    return redirect("/settings/microsoft", { headers: { "Set-Cookie": flash } });
  }

  const strategy = await signInStrategyFor(active.user);
  const expected = await microsoftIdentityOf(active.user, strategy);
  if (expected?.tenantId !== identity.tenantId || expected.objectId !== identity.objectId) return { problem: problems.wrongAccount };
  await db.session.update({ where: { id: active.id }, data: { authenticatedAt: new Date() } });
  await audit({ action: "reauth.microsoft", orgId: active.user.orgId, actorId: active.userId, ipAddress: address });
  return redirect(returnTo, { headers: { "Set-Cookie": await setFlash("Thanks, that's confirmed.") } });
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
