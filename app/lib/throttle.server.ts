// Growing delays after failed sign-in attempts, per account and per client address (NIST SP 800-63B §5.2.2).
import { db } from "./db.server.ts";

export const ACCOUNT_LOCK_AFTER = 100;
const ACCOUNT_FREE = 5;
const ADDRESS_FREE = 20;
const MAX_DELAY_MS = 15 * 60_000;
// An address that has been quiet this long starts again from zero; an account never does.
const ADDRESS_FORGET_MS = 60 * 60_000;

export const accountKey = (id: string) => `account:${id}`;
export const addressKey = (ip: string) => `address:${ip}`;

function delayAfter(failures: number, free: number): number {
  if (failures < free) return 0;
  return Math.min(1000 * 2 ** (failures - free), MAX_DELAY_MS);
}

/** When the next attempt is allowed, if either key is still waiting. */
export async function blockedUntil(keys: string[], now = new Date()): Promise<Date | null> {
  const rows = await db.signInThrottle.findMany({ where: { key: { in: keys }, blockedUntil: { gt: now } } });
  const latest = rows.reduce<Date | null>((max, r) => (r.blockedUntil && (!max || r.blockedUntil > max) ? r.blockedUntil : max), null);
  return latest;
}

/** Counts a failure against the account and the address; returns the account's consecutive failures. */
export async function recordFailure(account: string, address: string, now = new Date()): Promise<number> {
  let accountFailures = 0;
  for (const [key, free] of [[account, ACCOUNT_FREE], [address, ADDRESS_FREE]] as const) {
    const row = await db.signInThrottle.findUnique({ where: { key } });
    const stale = key === address && row && now.getTime() - row.lastFailureAt.getTime() > ADDRESS_FORGET_MS;
    const failures = (row && !stale ? row.failures : 0) + 1;
    const delay = delayAfter(failures, free);
    const data = { failures, lastFailureAt: now, blockedUntil: delay ? new Date(now.getTime() + delay) : null };
    await db.signInThrottle.upsert({ where: { key }, create: { key, ...data }, update: data });
    if (key === account) accountFailures = failures;
  }
  return accountFailures;
}

export async function clearFailures(account: string) {
  await db.signInThrottle.deleteMany({ where: { key: account } });
}
