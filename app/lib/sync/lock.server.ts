// One run at a time per integration, across app instances: a lease on the Integration row, taken and
// renewed with conditional updates (one UPDATE … WHERE is atomic on SQLite and PostgreSQL alike).
// A holder that stops renewing (crash, restart, stuck network) loses the lease when it expires.
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

export async function releaseLease(integrationId: string, holder: string) {
  await db.integration.updateMany({ where: { id: integrationId, syncLockedBy: holder }, data: { syncLockedBy: null, syncLockedUntil: null } });
}

/** Whether a run holds the integration's lease now. */
export const leaseHeld = (integration: { syncLockedUntil: Date | null }) => !!integration.syncLockedUntil && integration.syncLockedUntil.getTime() > Date.now();
