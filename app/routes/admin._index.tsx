import type { LoaderFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { requireAdmin } from "~/lib/session.server.ts";

export async function loader({ request }: LoaderFunctionArgs) {
  await requireAdmin(request);
  return redirect("/admin/integrations");
}

// Never drawn (an admin is redirected), but it makes this a page route rather than a resource route: a member's
// 404 is then the portal's "Page not found" page, not the bare text of the thrown response.
export default function AdminIndex() {
  return null;
}
