// Sign-in attempts are counted before they are checked (NIST SP 800-63B §5.2.2; docs/decisions/021). Each
// attempt counts on three keys, each in one atomic statement that refuses without counting while the key waits:
// - the account from this address ("pair"): 5 free attempts, then waits doubling from 1 s up to 15 minutes;
// - the account from any address: 20 free, then the same waits; at 100 the password locks until a reset;
// - the address across all accounts: 100 in a 15-minute window, so an office behind one address is not slowed
//   by its own sign-ins (a success takes its attempt back).
// The wait is set when an attempt is counted, so parallel guesses past the allowance are refused, not checked.
import { Prisma } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";

export const ACCOUNT_LOCK_AFTER = 100;
const PAIR_FREE = 5;
const ACCOUNT_FREE = 20;
const ADDRESS_LIMIT = 100;
export const ADDRESS_WINDOW_MS = 15 * 60_000;
const MAX_DELAY_MS = 15 * 60_000;

/** The wait after the n-th unsettled attempt of a key with `free` attempts: 0, then 1 s, 2 s, 4 s … 15 min. */
export function delayAfter(attempts: number, free: number): number {
  if (attempts < free) return 0;
  return Math.min(1000 * 2 ** (attempts - free), MAX_DELAY_MS);
}

type Backoff = { free: number; cap: number };
const PAIR: Backoff = { free: PAIR_FREE, cap: 2 ** 31 - 1 };
const ACCOUNT: Backoff = { free: ACCOUNT_FREE, cap: ACCOUNT_LOCK_AFTER };

export type AttemptKeys = { pair: string; account: string; address: string };

/** `account` is a user id, or `unknown:{hash}` for an identifier that names nobody. */
export function attemptKeys(account: string, ip: string): AttemptKeys {
  return { pair: `pair:${account}|${ip}`, account: `account:${account}`, address: `address:${ip}` };
}

export type Counted = { kind: "counted"; keys: AttemptKeys; accountAttempts: number; nextAllowed: Date | null };
export type Refused = { kind: "blocked"; until: Date } | { kind: "locked" };

// 2^k for the doublings below the longest wait, as CASE branches of constants.
const DOUBLINGS = Math.ceil(Math.log2(MAX_DELAY_MS / 1000));
const POWERS = Prisma.raw(Array.from({ length: DOUBLINGS }, (_, k) => `WHEN ${k} THEN ${2 ** k}`).join(" "));

/** A time in epoch milliseconds as a SQL BIGINT (PostgreSQL would otherwise guess a 32-bit integer). */
const ms = (value: number) => Prisma.sql`CAST(${value} AS BIGINT)`;

type Row = { key: string; attempts: number | bigint; nextAllowedMs: number | bigint };

const col = (name: string) => Prisma.raw(`"SignInAttempt"."${name}"`);

/** The wait a backoff key sets as it counts its next attempt: the table of delayAfter, as one CASE. */
function nextWait(rule: Backoff, now: number) {
  const n = Prisma.sql`${col("attempts")} + 1 - ${rule.free}`;
  return Prisma.sql`CASE
    WHEN ${n} < 0 THEN 0
    WHEN ${n} >= ${DOUBLINGS} THEN ${ms(now + MAX_DELAY_MS)}
    ELSE ${ms(now)} + 1000 * CASE ${n} ${POWERS} END
  END`;
}

/**
 * Counts an attempt on the address, the account and the pair before anything is checked, in one statement:
 * each key counts unless it must wait (a backoff key) or its window is full (the address), and a backoff key
 * sets the wait for its next attempt as if this one fails. The rows that come back are the keys that counted.
 * Refused by any key: the others take the attempt back, and the caller checks nothing.
 */
export async function countAttempt(keys: AttemptKeys, at = new Date()): Promise<Counted | Refused> {
  const now = at.getTime();
  const first = (rule: Backoff) => ms(delayAfter(1, rule.free) ? now + delayAfter(1, rule.free) : 0);
  const windowOver = Prisma.sql`${col("windowStartMs")} <= ${ms(now - ADDRESS_WINDOW_MS)}`;
  const isAddress = Prisma.sql`${col("key")} = ${keys.address}`;
  // Rows are locked address, account, pair, in every statement alike: concurrent statements cannot deadlock.
  const rows = await db.$queryRaw<Row[]>`
    INSERT INTO "SignInAttempt" ("key", "attempts", "windowStartMs", "lastAttemptMs", "nextAllowedMs")
    VALUES (${keys.address}, 1, ${ms(now)}, ${ms(now)}, 0),
           (${keys.account}, 1, ${ms(now)}, ${ms(now)}, ${first(ACCOUNT)}),
           (${keys.pair}, 1, ${ms(now)}, ${ms(now)}, ${first(PAIR)})
    ON CONFLICT ("key") DO UPDATE SET
      "attempts" = CASE WHEN ${isAddress} AND ${windowOver} THEN 1 ELSE ${col("attempts")} + 1 END,
      "windowStartMs" = CASE WHEN ${isAddress} AND ${windowOver} THEN ${ms(now)} ELSE ${col("windowStartMs")} END,
      "lastAttemptMs" = ${ms(now)},
      "nextAllowedMs" = CASE WHEN ${isAddress} THEN 0 WHEN ${col("key")} = ${keys.account} THEN ${nextWait(ACCOUNT, now)} ELSE ${nextWait(PAIR, now)} END
    WHERE (${isAddress} AND (${windowOver} OR ${col("attempts")} < ${ADDRESS_LIMIT}))
       OR (${col("key")} = ${keys.account} AND ${col("nextAllowedMs")} <= ${ms(now)} AND ${col("attempts")} < ${ACCOUNT.cap})
       OR (${col("key")} = ${keys.pair} AND ${col("nextAllowedMs")} <= ${ms(now)} AND ${col("attempts")} < ${PAIR.cap})
    RETURNING "key", "attempts", "nextAllowedMs"`;
  const counted = new Map(rows.map((r) => [r.key, r]));
  const order = [keys.address, keys.account, keys.pair];
  const refusedBy = order.find((key) => !counted.has(key));
  if (refusedBy) {
    if (counted.size) await takeBack([...counted.keys()]);
    return refusal(refusedBy, now);
  }
  const account = counted.get(keys.account)!;
  const waits = [account, counted.get(keys.pair)!].map((r) => Number(r.nextAllowedMs)).filter((t) => t > now);
  return { kind: "counted", keys, accountAttempts: Number(account.attempts), nextAllowed: waits.length ? new Date(Math.max(...waits)) : null };
}

/** Why a key refused: read only after a refusal, which is rare, so that counting stays one statement. */
async function refusal(key: string, now: number): Promise<Refused> {
  const row = await db.signInAttempt.findUnique({ where: { key } });
  if (!row) return { kind: "blocked", until: new Date(now + 1000) };
  if (key.startsWith("address:")) return { kind: "blocked", until: new Date(Number(row.windowStartMs) + ADDRESS_WINDOW_MS) };
  if (key.startsWith("account:") && row.attempts >= ACCOUNT_LOCK_AFTER) return { kind: "locked" };
  return { kind: "blocked", until: new Date(Number(row.nextAllowedMs)) };
}

/** An attempt that proved nothing wrong: its count is taken back, and the wait it set is lifted. */
async function takeBack(keys: string[]) {
  await db.$executeRaw`
    UPDATE "SignInAttempt" SET
      "attempts" = CASE WHEN "attempts" > 0 THEN "attempts" - 1 ELSE 0 END,
      "nextAllowedMs" = 0
    WHERE "key" IN (${Prisma.join(keys)})`;
}

/**
 * A counted attempt passed. `signedIn`: the sign-in (or step-up) is complete, so the account starts from zero
 * everywhere; otherwise (a right password, a code still to come) only this attempt is taken back, so the code
 * that follows is not kept waiting by the wait this attempt set.
 */
export async function settleAttempt(attempt: Counted, signedIn: boolean) {
  if (!signedIn) return takeBack([attempt.keys.address, attempt.keys.account, attempt.keys.pair]);
  await db.$executeRaw`
    UPDATE "SignInAttempt" SET
      "attempts" = CASE WHEN "key" = ${attempt.keys.address} AND "attempts" > 0 THEN "attempts" - 1 ELSE 0 END,
      "nextAllowedMs" = 0
    WHERE "key" IN (${attempt.keys.address}, ${attempt.keys.account}, ${attempt.keys.pair})`;
}

/** A password reset or an accepted invitation: the account's failures from every address are forgotten. */
export async function forgetAccount(userId: string) {
  const { account, pair } = attemptKeys(userId, "");
  await db.signInAttempt.deleteMany({ where: { OR: [{ key: account }, { key: { startsWith: pair } }] } });
}

// Failed requests at the OpenID Provider's token endpoint (a client authentication or a code or refresh token
// that does not hold), per address: after TOKEN_FAILURE_LIMIT in a window, the address's failures are answered
// "slow_down" until the window ends (decision 019). A success is never counted and never refused. The key is an
// address key, so the retention job deletes it with the other address windows.
export const TOKEN_FAILURE_LIMIT = 100;
const tokenFailureKey = (ip: string) => `address:oidc-token|${ip}`;

/** Counts one failure of the address in its window (a window that is over starts again). */
export async function countTokenFailure(ip: string, at = new Date()) {
  const now = at.getTime();
  const windowOver = Prisma.sql`${col("windowStartMs")} <= ${ms(now - ADDRESS_WINDOW_MS)}`;
  await db.$executeRaw`
    INSERT INTO "SignInAttempt" ("key", "attempts", "windowStartMs", "lastAttemptMs", "nextAllowedMs")
    VALUES (${tokenFailureKey(ip)}, 1, ${ms(now)}, ${ms(now)}, 0)
    ON CONFLICT ("key") DO UPDATE SET
      "attempts" = CASE WHEN ${windowOver} THEN 1 ELSE ${col("attempts")} + 1 END,
      "windowStartMs" = CASE WHEN ${windowOver} THEN ${ms(now)} ELSE ${col("windowStartMs")} END,
      "lastAttemptMs" = ${ms(now)}`;
}

/** When the address's window of token failures ends, if it is full; null when its failures are answered as usual. */
export async function tokenFailuresBlockedUntil(ip: string, at = new Date()): Promise<Date | null> {
  const row = await db.signInAttempt.findUnique({ where: { key: tokenFailureKey(ip) }, select: { attempts: true, windowStartMs: true } });
  if (!row || row.attempts < TOKEN_FAILURE_LIMIT) return null;
  const end = Number(row.windowStartMs) + ADDRESS_WINDOW_MS;
  return end > at.getTime() ? new Date(end) : null;
}
