// One run at a time per integration, across app instances: a lease on the Integration row, taken and
// renewed with conditional updates (one UPDATE … WHERE is atomic on SQLite and PostgreSQL alike).
// A live run renews it on a heartbeat; a holder that stops renewing (killed, restarted, machine gone) loses
// the lease when it expires. Expiry is compared with each instance's clock: keep instances' clocks in sync.
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { db } from "../db.server.ts";

export type Tx = Parameters<Parameters<typeof db.$transaction>[0]>[0];

/** Another run took over after this one's lease expired: this one must stop without writing. */
export class LockLostError extends Error {
  constructor() {
    super("This run lost its lock to another run after it stopped renewing it; the other run continues from the last saved page.");
  }
}

export const newHolder = () => `${hostname().slice(0, 60)}:${process.pid}:${randomUUID().slice(0, 8)}`;

export async function acquireLease(integrationId: string, holder: string, leaseMs: number): Promise<boolean> {
  const now = new Date();
  const { count } = await db.integration.updateMany({
    where: { id: integrationId, OR: [{ syncLockedUntil: null }, { syncLockedUntil: { lt: now } }] },
    data: { syncLockedBy: holder, syncLockedUntil: new Date(now.getTime() + leaseMs) },
  });
  return count === 1;
}

/** Extends the lease; throws LockLostError (rolling back `tx`) when someone else holds it now. */
export async function renewLease(tx: Tx | typeof db, integrationId: string, holder: string, leaseMs: number) {
  const { count } = await tx.integration.updateMany({
    where: { id: integrationId, syncLockedBy: holder },
    data: { syncLockedUntil: new Date(Date.now() + leaseMs) },
  });
  if (count !== 1) throw new LockLostError();
}

/**
 * Renews the lease every third of its length until stopped, so that a live run keeps it however long a page
 * or a wait takes, and a dead one loses it within `leaseMs`. It stops by itself once another holder has the
 * lease (the run finds out at its next write); a renewal that fails otherwise is tried again at the next beat.
 */
export function keepLeaseAlive(integrationId: string, holder: string, leaseMs: number): () => void {
  let renewing = false;
  const timer = setInterval(() => {
    if (renewing) return;
    renewing = true;
    renewLease(db, integrationId, holder, leaseMs)
      .catch((error) => {
        if (error instanceof LockLostError) clearInterval(timer);
      })
      .finally(() => (renewing = false));
  }, leaseMs / 3);
  timer.unref();
  return () => clearInterval(timer);
}

export async function releaseLease(integrationId: string, holder: string) {
  await db.integration.updateMany({ where: { id: integrationId, syncLockedBy: holder }, data: { syncLockedBy: null, syncLockedUntil: null } });
}

/** Whether a run holds the integration's lease now. */
export const leaseHeld = (integration: { syncLockedUntil: Date | null }, now = new Date()) =>
  !!integration.syncLockedUntil && integration.syncLockedUntil.getTime() > now.getTime();
