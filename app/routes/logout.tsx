import type { ActionFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { getSession, endSession } from "~/lib/session.server.ts";
import { audit } from "~/lib/audit.server.ts";
import { setFlash } from "~/lib/flash.server.ts";

// Signing out is a POST only: a link or an image on another page must not sign people out.
export const loader = () => redirect("/");

export async function action({ request }: ActionFunctionArgs) {
  const session = await getSession(request);
  const clear = await endSession(request);
  const headers = new Headers({ "Set-Cookie": clear });
  if (session?.stage === "active") {
    await audit({ action: "signout", orgId: session.user.orgId, actorId: session.userId });
    headers.append("Set-Cookie", await setFlash("You're signed out."));
  }
  return redirect("/login", { headers });
}
