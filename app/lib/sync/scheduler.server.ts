// Runs Entra ID Sync every SYNC_INTERVAL_MINUTES for each org's active sync connection. Every instance
// ticks; a run is due when the last one started longer ago than the interval, or at once when the instance
// running it died midway; the lock lets one instance run it, so N instances still sync each tenant about once
// per interval.
import { db } from "../db.server.ts";
import { env } from "../env.server.ts";
import { startRepeating } from "../schedule.server.ts";
import { leaseHeld } from "./lock.server.ts";
import { runSync } from "./run.server.ts";

const TICK_MS = 60_000;
const FIRST_TICK_MS = 15_000;

/**
 * The sync connections whose last run started at least `intervalMinutes` ago (or never ran), and those whose
 * last run was cut off: still "running" with nobody holding the lock, because the instance running it died.
 */
export async function dueIntegrations(intervalMinutes: number, now = new Date()): Promise<string[]> {
  const connections = await db.integration.findMany({
    where: { status: "active", syncOrg: { isNot: null } },
    select: { id: true, syncLockedUntil: true, syncRuns: { select: { startedAt: true, status: true }, orderBy: { startedAt: "desc" }, take: 1 } },
  });
  const cutoff = now.getTime() - intervalMinutes * 60_000;
  const due = (c: (typeof connections)[number]) => {
    const last = c.syncRuns[0];
    return !last || last.startedAt.getTime() <= cutoff || (last.status === "running" && !leaseHeld(c, now));
  };
  return connections.filter(due).map((c) => c.id);
}

/** Runs what is due, one integration after the other. */
export async function runDueSyncs(intervalMinutes: number) {
  for (const id of await dueIntegrations(intervalMinutes)) await runSync(id, "schedule");
}

/** Starts the schedule; returns a function that stops it (a run in progress ends with the process). */
export function startSyncScheduler(intervalMinutes = env().SYNC_INTERVAL_MINUTES): () => void {
  if (intervalMinutes <= 0) return () => {};
  const everyMs = intervalMinutes * 60_000;
  return startRepeating(() => runDueSyncs(intervalMinutes), {
    label: "Entra ID Sync schedule",
    firstMs: Math.min(FIRST_TICK_MS, everyMs),
    everyMs: Math.min(TICK_MS, everyMs),
    retry: "at the next tick",
  });
}
