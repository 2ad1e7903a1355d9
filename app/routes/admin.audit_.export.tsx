// The filtered audit log as a file (CSV or JSON Lines), streamed: see auditExport.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { audit } from "~/lib/audit.server.ts";
import { auditExport, parseAuditFilter } from "~/lib/audit-log.server.ts";
import { clientAddress } from "~/lib/context.ts";
import { requireAdmin } from "~/lib/session.server.ts";

const TYPES = { csv: "text/csv; charset=utf-8", jsonl: "application/x-ndjson; charset=utf-8" } as const;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const params = new URL(request.url).searchParams;
  const format = params.get("format");
  if (format !== "csv" && format !== "jsonl") throw new Response("Choose the format csv or jsonl.", { status: 400 });
  const parsed = parseAuditFilter(params);
  if (!parsed.ok) throw new Response(Object.values(parsed.errors)[0], { status: 400 });
  const { cursor: _unused, ...filter } = parsed.filter;
  // Who took a copy of the log, and of which part, is itself in the log.
  await audit({ action: "audit.exported", orgId: user.orgId, actorId: user.id, ipAddress: clientAddress(context), detail: { format, ...filter } });
  const day = new Date().toISOString().slice(0, 10);
  return new Response(await auditExport(user.orgId, { ...filter, cursor: "" }, format), {
    headers: {
      "Content-Type": TYPES[format],
      "Content-Disposition": `attachment; filename="audit-${day}.${format}"`,
    },
  });
}
