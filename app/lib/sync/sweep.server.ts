// A full round (first sync, new scope, expired delta token) lists everyone in scope but not who left.
// Before it starts, every user in scope is marked unseen (lastSyncedAt = null); each page marks the users it
// lists; after the last page, whoever is still unseen has left and is deactivated. The marks are in the
// database, so a round that resumes after a crash sweeps correctly, and nothing is held in memory.
import { db } from "../db.server.ts";
import { noCounts, type Counts, type SyncScope } from "./apply.server.ts";
import { renewLease } from "./lock.server.ts";
import { applyDirectoryChanges } from "../signin/change.server.ts";

const CHUNK = 1000;
const TX = { timeout: 60_000, maxWait: 30_000 };

const inScope = (scope: Pick<SyncScope, "integrationId" | "tenantId">) => ({ entraTenantId: scope.tenantId, syncIntegrationId: scope.integrationId });

export async function markUnseen(scope: Pick<SyncScope, "integrationId" | "tenantId">) {
  await db.user.updateMany({ where: inScope(scope), data: { lastSyncedAt: null } });
}

/**
 * Takes out of scope every user the round did not see; active ones are deactivated and signed out.
 * In chunks, each renewing the lease.
 */
export async function sweep(scope: SyncScope, lease: { holder: string; leaseMs: number }): Promise<Counts> {
  const counts = noCounts();
  for (;;) {
    const chunk = await db.user.findMany({ where: { ...inScope(scope), lastSyncedAt: null }, select: { id: true, status: true }, take: CHUNK });
    if (!chunk.length) return counts;
    const active = chunk.filter((u) => u.status === "active").map((u) => u.id);
    await db.$transaction(async (tx) => {
      await renewLease(tx, scope.integrationId, lease.holder, lease.leaseMs);
      await tx.user.updateMany({ where: { id: { in: chunk.map((u) => u.id) } }, data: { syncIntegrationId: null, lastSyncedAt: scope.now } });
      if (active.length) {
        await tx.user.updateMany({ where: { id: { in: active }, status: "active" }, data: { status: "deactivated" } });
        await applyDirectoryChanges(tx, scope.orgId, { deactivated: active, changed: [] });
      }
      await tx.syncRun.update({ where: { id: scope.runId }, data: { deactivated: { increment: active.length } } });
    }, TX);
    counts.deactivated += active.length;
  }
}
