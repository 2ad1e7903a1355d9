import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Link } from "@remix-run/react";
import { clientAddress } from "~/lib/context.ts";
import { setFlash } from "~/lib/flash.server.ts";
import { handleConsentCallback } from "~/lib/integrations.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";

export const meta: MetaFunction = () => [{ title: "Microsoft consent" }];

// Microsoft sends the admin back here after the admin-consent page.
export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await requireAdmin(request);
  const query = new URL(request.url).searchParams;
  const param = (name: string) => query.get(name)?.slice(0, 2000) ?? null;
  const result = await handleConsentCallback(
    session,
    { state: param("state"), error: param("error"), errorDescription: param("error_description"), tenant: param("tenant") },
    clientAddress(context),
  );
  if (result.kind === "bad_state") return { badState: true };
  // Consent alone proves only that the app is installed in the tenant; its admin signs in next.
  if (result.kind === "prove_owner") return redirect(result.url);
  const name = result.integration.displayName ?? result.integration.tenantDomain ?? result.integration.tenantId;
  const message = {
    active: `Consent confirmed: ${name} is active.`,
    refused: `Microsoft reports that consent was not granted for ${name}.`,
    waiting: `Microsoft has not confirmed consent for ${name} yet.`,
    unavailable: `Microsoft could not be reached to confirm consent for ${name}. Check again in a few minutes.`,
    ownership_needed: `An admin of ${name} must sign in with their Microsoft account before it can be used.`,
    confirm_lockout: `Consent is granted for ${name}, but activating it would leave no admin who signs in with a password and authenticator app. Confirm on this page to activate it.`,
  }[result.kind];
  return redirect(`/admin/integrations/${result.integration.id}`, { headers: { "Set-Cookie": await setFlash(message) } });
}

export default function ConsentCallback() {
  return (
    <section className="card">
      <h2>This consent response can't be used</h2>
      <p>
        It doesn't belong to your current session, it has expired, or it was already used. Nothing was changed. Start again from the{" "}
        <Link to="/admin/integrations">Microsoft integrations</Link> page.
      </p>
    </section>
  );
}
