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

type ThrottleRow = { key: string; failures: number; blockedUntil: Date | null };

function latestBlock(rows: ThrottleRow[], now: Date): Date | null {
  return rows.reduce<Date | null>((max, r) => (r.blockedUntil && r.blockedUntil > now && (!max || r.blockedUntil > max) ? r.blockedUntil : max), null);
}

/** When the next attempt is allowed, if either key is still waiting. */
export async function blockedUntil(keys: string[], now = new Date()): Promise<Date | null> {
  const rows = await db.signInThrottle.findMany({ where: { key: { in: keys }, blockedUntil: { gt: now } } });
  return latestBlock(rows, now);
}

export type ThrottleState = { accountFailures: number; blockedUntil: Date | null };

/** The account's consecutive failures and when the next attempt is allowed, from one read of both keys. */
export async function throttleState(account: string, address: string, now = new Date()): Promise<ThrottleState> {
  const rows = await db.signInThrottle.findMany({ where: { key: { in: [account, address] } } });
  return { accountFailures: rows.find((r) => r.key === account)?.failures ?? 0, blockedUntil: latestBlock(rows, now) };
}

/**
 * Counts a failure against the account and the address; returns the account's consecutive failures and the
 * new wait. Each count is one atomic increment, so failures on several instances at once all count.
 */
export async function recordFailure(account: string, address: string, now = new Date()): Promise<ThrottleState> {
  const written: ThrottleRow[] = [];
  for (const [key, free] of [
    [account, ACCOUNT_FREE],
    [address, ADDRESS_FREE],
  ] as const) {
    if (key === address) {
      await db.signInThrottle.updateMany({
        where: { key, lastFailureAt: { lt: new Date(now.getTime() - ADDRESS_FORGET_MS) } },
        data: { failures: 0, blockedUntil: null },
      });
    }
    const row = await db.signInThrottle.upsert({
      where: { key },
      create: { key, failures: 1, lastFailureAt: now },
      update: { failures: { increment: 1 }, lastFailureAt: now },
    });
    const delay = delayAfter(row.failures, free);
    const until = delay ? new Date(now.getTime() + delay) : null;
    // Only ever later: a concurrent failure with a higher count may have set a longer wait already.
    if (until)
      await db.signInThrottle.updateMany({ where: { key, OR: [{ blockedUntil: null }, { blockedUntil: { lt: until } }] }, data: { blockedUntil: until } });
    written.push({ ...row, blockedUntil: until });
  }
  return { accountFailures: written[0]!.failures, blockedUntil: latestBlock(written, now) };
}

export async function clearFailures(account: string) {
  await db.signInThrottle.deleteMany({ where: { key: account } });
}
