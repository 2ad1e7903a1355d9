// The full list behind a scope change's first names: the users synced now whom the new group scope leaves out.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { z } from "zod";
import { requireAdmin } from "~/lib/session.server.ts";
import { scopeImpactCsv } from "~/lib/sync/scope-impact.server.ts";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const query = z.object({ integrationId: z.string().min(1).max(64), scope: z.literal("group"), groupId: z.string().regex(GUID) });

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const parsed = query.safeParse(Object.fromEntries(new URL(request.url).searchParams));
  if (!parsed.success) throw new Response("Name one of your integrations and the group's object ID.", { status: 400 });
  const csv = await scopeImpactCsv(user.orgId, parsed.data.integrationId, { scope: "group", groupId: parsed.data.groupId.toLowerCase() });
  if (csv === null)
    throw new Response("The list could not be made: the integration is not one of yours, or Microsoft Graph did not answer. Try again.", { status: 404 });
  return new Response(csv, {
    headers: { "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": 'attachment; filename="sync-scope-change.csv"' },
  });
}
