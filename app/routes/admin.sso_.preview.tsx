// The full lists of a switch's preview, as CSV: who would go back to password, who would be left with none.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { z } from "zod";
import { previewCsv } from "~/lib/preview-summary.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { switchPreview } from "~/lib/sso.server.ts";

const query = z.object({ switch: z.enum(["org", "all"]), enabled: z.enum(["on", "off"]) });

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const parsed = query.safeParse(Object.fromEntries(new URL(request.url).searchParams));
  if (!parsed.success) throw new Response("Name the switch (org or all) and whether it goes on or off.", { status: 400 });
  const preview = await switchPreview(user.orgId, parsed.data.switch, parsed.data.enabled === "on");
  return new Response(previewCsv(preview), {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="sso-${parsed.data.switch}-${parsed.data.enabled}-preview.csv"`,
    },
  });
}
