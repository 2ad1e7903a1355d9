import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { db } from "~/lib/db.server.ts";
import { requireAdmin } from "~/lib/session.server.ts";
import { DataTable } from "~/components/data-table.tsx";

export const meta: MetaFunction = () => [{ title: "Audit log" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const { user } = await requireAdmin(request);
  const events = await db.auditEvent.findMany({
    where: { orgId: user.orgId },
    orderBy: { createdAt: "desc" },
    take: 200,
    include: { actor: { select: { name: true } } },
  });
  return {
    events: events.map((e) => ({
      id: e.id,
      at: e.createdAt.toISOString(),
      actor: e.actor?.name ?? "—",
      action: e.action,
      result: e.result,
      detail: e.detail,
      ip: e.ipAddress,
    })),
  };
}

export default function AuditLog() {
  const { events } = useLoaderData<typeof loader>();
  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit log</h2>
      <p className="hint">The latest 200 events of your organization.</p>
      <DataTable columns={["When (UTC)", "Who", "What", "Result", "Details"]}>
        {events.map((e) => (
          <tr key={e.id}>
            <td>{e.at.replace("T", " ").slice(0, 19)}</td>
            <td>{e.actor}</td>
            <td>{e.action}</td>
            <td>{e.result}</td>
            <td>
              <code>{e.detail ?? ""}</code>
            </td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
