// What the Entra ID Sync and SSO pages say about the schedule, a run, a scope change and the users left from an
// earlier connection. Pure, so that the pages and the tests share one wording.
import { count, duration, minutes } from "../wording.ts";

const n = (value: number) => new Intl.NumberFormat("en").format(value);

/** The schedule as the admin can act on it: off (and how to turn it on), or how often. */
export function scheduleSentence(intervalMinutes: number): string {
  if (intervalMinutes <= 0)
    return "Automatic sync is off on this server (SYNC_INTERVAL_MINUTES is 0): users change here only when you press Sync now. To sync on a schedule, set SYNC_INTERVAL_MINUTES to a number of minutes and restart the portal.";
  return `The portal also syncs on its own every ${minutes(intervalMinutes)} (SYNC_INTERVAL_MINUTES).`;
}

type RunTimes = { startedAt: string; finishedAt: string | null };

/** "4 seconds", "3 minutes"; under a second says so; a running run has none yet. */
export function runDuration(run: RunTimes): string {
  if (!run.finishedAt) return "—";
  const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
  return seconds < 1 ? "under 1 second" : duration(seconds, "roundUp");
}

/** Full (the whole scope read from the start) or changes only; resumed runs say so. */
export function runRound(run: { mode: "full" | "delta" | null; resumed: boolean }): string {
  const round = run.mode === "full" ? "Full" : run.mode === "delta" ? "Changes only" : "—";
  return run.resumed ? `${round}, resumed after a failed run` : round;
}

export type RunCounts = { pagesDone: number; created: number; updated: number; deactivated: number; conflicts: number; errors: number };

/** A running run's progress. */
export const progressSentence = (r: RunCounts) =>
  `${count(r.pagesDone, "page")} read, ${n(r.created)} created, ${n(r.updated)} updated, ${n(r.deactivated)} deactivated, ${count(r.conflicts, "conflict")}, ${count(r.errors, "error")}.`;

export type Leftovers = { total: number; password: number; none: number; microsoft: number };

/**
 * Users synced by an earlier connection, no longer updated: how they sign in now (from the rule), and what the
 * admin must do for those who cannot.
 */
export function leftoverSentences(left: Leftovers): string[] {
  if (!left.total) return [];
  const out = [`${count(left.total, "synced user is", "synced users are")} left from an earlier connection: sync no longer updates or deactivates them.`];
  if (left.password) out.push(`${n(left.password)} of them ${left.password === 1 ? "signs" : "sign"} in with their password and authenticator app.`);
  if (left.microsoft) out.push(`${n(left.microsoft)} of them ${left.microsoft === 1 ? "signs" : "sign"} in with a linked Microsoft account.`);
  if (left.none)
    out.push(`${n(left.none)} ${left.none === 1 ? "has" : "have"} no password and cannot sign in until they get a set-password link (on each user's page).`);
  return out;
}

type Impact =
  | { kind: "tenant" }
  | { kind: "counted"; group: string; syncedNow: number; leaving: number }
  | { kind: "unknown"; group: string; syncedNow: number; reason: string };

/** What the confirmation step says the new scope does to the users synced now. */
export function impactSentence(impact: Impact, tenant: string): string {
  if (impact.kind === "tenant")
    return "The whole tenant is read: nobody is deactivated because of the scope (users deleted or disabled in Entra ID are, as at every sync).";
  if (impact.kind === "unknown")
    return `How many users would be deactivated is unknown: ${impact.reason} You can still change the scope; the users synced now from ${tenant} who are not in ${impact.group} are deactivated at the next sync.`;
  if (!impact.syncedNow) return `No users are synced now from ${tenant}: nobody is deactivated.`;
  if (!impact.leaving)
    return `All ${count(impact.syncedNow, "user")} synced now from ${tenant} ${impact.syncedNow === 1 ? "is" : "are"} in ${impact.group}: nobody is deactivated.`;
  return `${n(impact.leaving)} of the ${count(impact.syncedNow, "user")} synced now from ${tenant} ${impact.leaving === 1 ? "is" : "are"} not in ${impact.group} and will be deactivated at the next sync (and signed out).`;
}
