import type { ActionFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { clientAddress } from "~/lib/context.ts";
import { microsoftConfigured } from "~/lib/microsoft/config.server.ts";
import { MicrosoftUnavailableError } from "~/lib/microsoft/http.server.ts";
import { microsoftSignInAnyone } from "~/lib/signin/microsoft.server.ts";
import { safeRedirectPath } from "~/lib/security.server.ts";
import { requireAnonymous } from "~/lib/session.server.ts";

export const loader = () => redirect("/login");

// The "Sign in with Microsoft" button on the login page.
export async function action({ request, context }: ActionFunctionArgs) {
  await requireAnonymous(request);
  const form = await request.formData();
  const returnTo = safeRedirectPath(form.get("redirectTo"), "/");
  if (!microsoftConfigured()) return redirect("/login?microsoft=unavailable");
  try {
    const { url, setCookie } = await microsoftSignInAnyone(returnTo, clientAddress(context));
    return redirect(url, { headers: { "Set-Cookie": setCookie } });
  } catch (error) {
    if (error instanceof MicrosoftUnavailableError) return redirect("/login?microsoft=unavailable");
    throw error;
  }
}
