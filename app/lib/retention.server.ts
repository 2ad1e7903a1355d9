// The retention job: deletes what is past its time, so that no table grows without bound: expired sessions,
// Microsoft flow states past their expiry, one-time tokens some days after their use or expiry, delivered mail
// after MAIL_RETENTION_DAYS, sign-in attempt counters that no longer hold anything (docs/decisions/021), the
// OpenID Provider's grants, codes, tokens and sessions past their expiry (decision 019), and audit
// events only when AUDIT_RETENTION_DAYS is set. Runs in batches (short
// write locks beside sign-ins) on the server's schedule and as `npm run portal -- retention:run`.
// See docs/decisions/016-retention-and-operator-cli.md.
import type { Prisma } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { isPostgresUrl } from "./db-postgres.server.ts";
import { env } from "./env.server.ts";
import { log } from "./log.server.ts";
import { startRepeating } from "./schedule.server.ts";
import { ADDRESS_WINDOW_MS } from "./throttle.server.ts";
import { count } from "./wording.ts";

export type RetentionPolicy = {
  /** Used or expired one-time tokens (not flow states) stay this many days after use or expiry. */
  tokenDays: number;
  /** Delivered mail stays this many days after delivery. */
  mailDays: number;
  /** Audit events older than this many days go; undefined keeps them. */
  auditDays: number | undefined;
  /** A session idle this long is over (the sign-in check ends it at its next use). */
  sessionIdleMinutes: number;
};

export type RetentionResult = {
  sessions: number;
  flowStates: number;
  tokens: number;
  mail: number;
  attemptCounters: number;
  appTokens: number;
  auditEvents: number;
  batches: number;
};

type Counted = Exclude<keyof RetentionResult, "batches">;

export const RETENTION_BATCH = 500;
const DAY_MS = 24 * 3600_000;
// The Microsoft sign-in and consent flows: useless once expired, ten minutes after they start.
const FLOW_TYPES = ["oauth_state", "consent_state"];
// pg_try_advisory_xact_lock's key for "a retention batch is running": one instance deletes at a time.
const LOCK_KEY = 1_316_010;

export function policyFromEnv(): RetentionPolicy {
  const e = env();
  return { tokenDays: e.TOKEN_RETENTION_DAYS, mailDays: e.MAIL_RETENTION_DAYS, auditDays: e.AUDIT_RETENTION_DAYS, sessionIdleMinutes: e.SESSION_IDLE_MINUTES };
}

type Tx = Prisma.TransactionClient;
type Rule = { key: Counted; find(tx: Tx, take: number): Promise<{ id: string }[]>; remove(tx: Tx, ids: string[]): Promise<{ count: number }> };

// Each rule's condition is checked again by the delete: a row that came back to life in between (a session
// used meanwhile) stays.
function rules(policy: RetentionPolicy, now: Date): Rule[] {
  const before = (ms: number) => new Date(now.getTime() - ms);
  const select = { id: true } as const;
  const sessions: Prisma.SessionWhereInput = { OR: [{ expiresAt: { lte: now } }, { lastSeenAt: { lte: before(policy.sessionIdleMinutes * 60_000) } }] };
  const flowStates: Prisma.OneTimeTokenWhereInput = { type: { in: FLOW_TYPES }, expiresAt: { lte: now } };
  const graceEnd = before(policy.tokenDays * DAY_MS);
  const tokens: Prisma.OneTimeTokenWhereInput = { type: { notIn: FLOW_TYPES }, OR: [{ usedAt: { lte: graceEnd } }, { expiresAt: { lte: graceEnd } }] };
  // Only by delivery status and age: what a message holds is the mail code's business.
  const mail: Prisma.OutgoingMailWhereInput = { status: "sent", sentAt: { lte: before(policy.mailDays * DAY_MS) } };
  // An address's window that is over, a settled counter, or a pair or unknown identifier quiet for a day. A known
  // account's unsettled failures stay: they count towards its lock until a sign-in or a reset.
  const dayAgo = BigInt(now.getTime() - DAY_MS);
  const counters: Prisma.SignInAttemptWhereInput = {
    OR: [
      { key: { startsWith: "address:" }, windowStartMs: { lte: BigInt(now.getTime() - ADDRESS_WINDOW_MS) } },
      { attempts: 0, lastAttemptMs: { lte: dayAgo } },
      {
        OR: [{ key: { startsWith: "pair:" } }, { key: { startsWith: "account:unknown:" } }],
        lastAttemptMs: { lte: dayAgo },
        nextAllowedMs: { lte: BigInt(now.getTime()) },
      },
    ],
  };
  // The provider never finds an expired row (adapter.server.ts); a used refresh token stays until its expiry, so
  // that its reuse still ends the grant. Its key is two columns, carried as one JSON string.
  const appTokens: Prisma.OidcPayloadWhereInput = { expiresAt: { lte: now } };
  const list: Rule[] = [
    {
      key: "sessions",
      find: (tx, take) => tx.session.findMany({ where: sessions, select, take }),
      remove: (tx, ids) => tx.session.deleteMany({ where: { id: { in: ids }, ...sessions } }),
    },
    {
      key: "flowStates",
      find: (tx, take) => tx.oneTimeToken.findMany({ where: flowStates, select, take }),
      remove: (tx, ids) => tx.oneTimeToken.deleteMany({ where: { id: { in: ids }, ...flowStates } }),
    },
    {
      key: "tokens",
      find: (tx, take) => tx.oneTimeToken.findMany({ where: tokens, select, take }),
      remove: (tx, ids) => tx.oneTimeToken.deleteMany({ where: { id: { in: ids }, ...tokens } }),
    },
    {
      key: "mail",
      find: (tx, take) => tx.outgoingMail.findMany({ where: mail, select, take }),
      remove: (tx, ids) => tx.outgoingMail.deleteMany({ where: { id: { in: ids }, ...mail } }),
    },
    {
      key: "attemptCounters",
      find: async (tx, take) => (await tx.signInAttempt.findMany({ where: counters, select: { key: true }, take })).map((r) => ({ id: r.key })),
      remove: (tx, keys) => tx.signInAttempt.deleteMany({ where: { key: { in: keys }, ...counters } }),
    },
    {
      key: "appTokens",
      find: async (tx, take) =>
        (await tx.oidcPayload.findMany({ where: appTokens, select: { kind: true, id: true }, take })).map((r) => ({ id: JSON.stringify([r.kind, r.id]) })),
      remove: (tx, keys) => {
        const pairs = keys.map((key) => JSON.parse(key) as [string, string]);
        return tx.oidcPayload.deleteMany({ where: { OR: pairs.map(([kind, id]) => ({ kind, id })), ...appTokens } });
      },
    },
  ];
  if (policy.auditDays !== undefined) {
    const audit: Prisma.AuditEventWhereInput = { createdAt: { lte: before(policy.auditDays * DAY_MS) } };
    list.push({
      key: "auditEvents",
      find: (tx, take) => tx.auditEvent.findMany({ where: audit, select, take }),
      remove: (tx, ids) => tx.auditEvent.deleteMany({ where: { id: { in: ids }, ...audit } }),
    });
  }
  return list;
}

/**
 * One batch of one rule: the number deleted, or null when another instance holds the batch lock (PostgreSQL).
 * PostgreSQL: in a transaction under an advisory lock, so that instances never wait on each other's row locks
 * (two deletes of overlapping rows in different orders would deadlock). SQLite has one writer: a plain delete,
 * outside a transaction, whose read cannot go stale before its write.
 */
async function batch(rule: Rule, size: number): Promise<number | null> {
  const once = async (tx: Tx) => {
    const ids = (await rule.find(tx, size)).map((r) => r.id);
    return ids.length ? (await rule.remove(tx, ids)).count : 0;
  };
  if (!isPostgresUrl(env().DATABASE_URL)) return once(db);
  return db.$transaction(async (tx) => {
    const [row] = await tx.$queryRaw<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(${LOCK_KEY}) AS "locked"`;
    return row?.locked ? once(tx) : null;
  });
}

/**
 * Deletes everything past its time, batch by batch. Safe to run at any moment and on several instances at once:
 * a run that finds another instance busy stops, and that instance finishes the work.
 */
export async function runRetention(options: { now?: Date; batchSize?: number; policy?: Partial<RetentionPolicy> } = {}): Promise<RetentionResult> {
  const policy = { ...policyFromEnv(), ...options.policy };
  const size = options.batchSize ?? RETENTION_BATCH;
  const result: RetentionResult = { sessions: 0, flowStates: 0, tokens: 0, mail: 0, attemptCounters: 0, appTokens: 0, auditEvents: 0, batches: 0 };
  for (const rule of rules(policy, options.now ?? new Date())) {
    for (;;) {
      const deleted = await batch(rule, size);
      if (deleted === null) return result;
      if (deleted > 0) result.batches++;
      result[rule.key] += deleted;
      if (deleted < size) break;
    }
  }
  return result;
}

/** What a run deleted, in one sentence. */
export function describeRetention(r: RetentionResult, policy: Pick<RetentionPolicy, "auditDays"> = policyFromEnv()): string {
  return (
    `Deleted ${count(r.sessions, "expired session")}, ${count(r.flowStates, "Microsoft flow state")}, ` +
    `${count(r.tokens, "used or expired token")}, ${count(r.mail, "delivered mail")}, ${count(r.attemptCounters, "sign-in attempt counter")}, ` +
    `${count(r.appTokens, "expired app token")} and ${count(r.auditEvents, "audit event")}` +
    `${policy.auditDays === undefined ? " (audit events are kept)" : ` (older than ${count(policy.auditDays, "day")})`}.`
  );
}

const FIRST_TICK_MS = 60_000;

/** Runs the job every `intervalMinutes` (0: never); returns a function that stops the schedule. */
export function startRetentionScheduler(intervalMinutes = env().RETENTION_INTERVAL_MINUTES, options: { firstTickMs?: number } = {}): () => void {
  if (intervalMinutes <= 0) return () => {};
  const job = async () => {
    const result = await runRetention();
    if (result.batches) log.info({ job: "Retention" }, `Retention: ${describeRetention(result)}`);
  };
  return startRepeating(job, {
    label: "Retention",
    firstMs: options.firstTickMs ?? FIRST_TICK_MS,
    everyMs: intervalMinutes * 60_000,
    retry: "at the next run",
  });
}
