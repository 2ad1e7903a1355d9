// The full lists of what removing an integration does, as CSV.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { findIntegration, removalPreview } from "~/lib/integrations.server.ts";
import { previewCsv } from "~/lib/preview-summary.ts";
import { requireAdmin } from "~/lib/session.server.ts";

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const integration = await findIntegration(user.orgId, params.id ?? "");
  if (!integration || integration.status === "removed") throw new Response("Not found", { status: 404 });
  return new Response(previewCsv(await removalPreview(integration)), {
    headers: { "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="remove-integration-preview.csv"` },
  });
}
