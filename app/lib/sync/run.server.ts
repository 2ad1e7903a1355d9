// A sync run of one integration, from the lock to the last line of its history: "Sync now" and the schedule
// both come through here. One run at a time per integration, across instances (lock.server.ts).
import type { Integration } from "~/generated/prisma/client.ts";
import { audit } from "../audit.server.ts";
import { log } from "../log.server.ts";
import { metrics } from "../metrics.server.ts";
import { db } from "../db.server.ts";
import { appToken } from "../microsoft/consent.server.ts";
import { MicrosoftUnavailableError } from "../microsoft/http.server.ts";
import { missingPermissions, missingPermissionsSentence } from "../microsoft/permissions.ts";
import { noCounts, type Counts } from "./apply.server.ts";
import { DeltaExpiredError, GraphRefusedError, MAX_PAGE_SIZE, TokenRefusedError, type ReaderOptions } from "./graph.server.ts";
import { acquireLease, keepLeaseAlive, LockLostError, newHolder, releaseLease, renewLease } from "./lock.server.ts";
import { GroupNotFoundError, startOver, walkScope, type Walk } from "./walk.server.ts";

export type SyncTrigger = "manual" | "schedule";

export type SyncOptions = Partial<Omit<ReaderOptions, "keepAlive">> & {
  /**
   * How long a run's lock lasts without renewal: how long an integration stays locked after the process that
   * ran it died. A live run renews it every third of that, at every page and before every wait.
   */
  leaseMs?: number;
  onPage?: Walk["onPage"];
};

export const SYNC_DEFAULTS = { pageSize: MAX_PAGE_SIZE, retries: 4, backoffMs: 1000, maxRetryAfterSeconds: 120, maxThrottled: 20, leaseMs: 60_000 };

export type Started = { kind: "started"; runId: string; integration: Integration; holder: string; resumeLink: string | null; options: SyncOptions };
export type NotStarted = { kind: "busy" } | { kind: "not_connected" } | { kind: "missing_permissions"; missing: string[]; message: string };
export type RunOutcome = NotStarted | { kind: "succeeded" | "failed"; runId: string; counts: Counts; error: string | null };

export const INTERRUPTED = "The run stopped before it finished (the app restarted or stopped answering). The next run continues from the last saved page.";

/**
 * Takes the integration's lock and opens a run, continuing where the last run stopped if it failed.
 * Only the org's active sync connection runs.
 */
export async function beginRun(
  integrationId: string,
  trigger: SyncTrigger,
  options: SyncOptions = {},
  actorId: string | null = null,
): Promise<Started | NotStarted> {
  const connected = () => db.integration.findFirst({ where: { id: integrationId, status: "active", syncOrg: { isNot: null } } });
  const found = await connected();
  if (!found || (found.syncScope === "group" && !found.syncGroupId)) return { kind: "not_connected" };
  const refused = await lackingPermissions(found, trigger, actorId);
  if (refused) return refused;
  const holder = newHolder();
  if (!(await acquireLease(integrationId, holder, options.leaseMs ?? SYNC_DEFAULTS.leaseMs))) return { kind: "busy" };
  try {
    // Read again under the lock: the links and the scope are what the last holder left.
    const integration = await connected();
    if (!integration) {
      await releaseLease(integrationId, holder);
      return { kind: "not_connected" };
    }
    // A run still "running" belongs to a holder whose lease expired: it died midway.
    await db.syncRun.updateMany({ where: { integrationId, status: "running" }, data: { status: "failed", finishedAt: new Date(), errorMessage: INTERRUPTED } });
    const last = await db.syncRun.findFirst({ where: { integrationId }, orderBy: { startedAt: "desc" } });
    const resumeLink = last?.status === "failed" ? last.resumeLink : null;
    // A resumed run goes on with the last run's round; otherwise a phase without a delta link reads everything.
    const deltaLink = integration.syncScope === "group" ? integration.groupsDeltaLink : integration.usersDeltaLink;
    const mode = resumeLink ? (last?.mode ?? null) : deltaLink ? "delta" : "full";
    const run = await db.syncRun.create({ data: { integrationId, trigger, resumeLink, mode, resumed: Boolean(resumeLink) } });
    await audit({
      action: "sync.run.started",
      orgId: integration.orgId,
      actorId,
      targetType: "sync_run",
      targetId: run.id,
      detail: { trigger, tenantId: integration.tenantId, scope: integration.syncScope, groupId: integration.syncGroupId, resumed: Boolean(resumeLink) },
    });
    return { kind: "started", runId: run.id, integration, holder, resumeLink, options };
  } catch (error) {
    await releaseLease(integrationId, holder);
    throw error;
  }
}

/**
 * Before anything is locked or recorded: the tenant's app-only token must carry the Graph permissions the run
 * reads with, or the run would stop at a 403 midway. A token that can't be had now is left to the run, which
 * records Microsoft's answer as before.
 */
async function lackingPermissions(integration: Integration, trigger: SyncTrigger, actorId: string | null): Promise<NotStarted | null> {
  const token = await appToken(integration.tenantId);
  if (token.kind !== "ok") return null;
  await db.integration.update({ where: { id: integration.id }, data: { grantedRoles: token.roles.join(" "), grantedRolesAt: new Date() } });
  const use = { sync: true as const, groupScope: integration.syncScope === "group" };
  const missing = missingPermissions(use, token.roles);
  if (!missing.length) return null;
  const message = missingPermissionsSentence(use, missing);
  if (trigger === "manual") {
    await audit({
      action: "sync.run.refused",
      orgId: integration.orgId,
      actorId,
      targetType: "integration",
      targetId: integration.id,
      result: "failure",
      detail: { tenantId: integration.tenantId, missing, granted: token.roles },
    });
  }
  return { kind: "missing_permissions", missing, message };
}

/** Runs a begun run to its end and records the outcome; never throws (it may run in the background). */
export async function finishRun(started: Started): Promise<RunOutcome> {
  const { integration, options } = started;
  const o = { ...SYNC_DEFAULTS, ...options };
  const walk: Walk = {
    scope: { integrationId: integration.id, orgId: integration.orgId, tenantId: integration.tenantId, runId: started.runId },
    integration,
    holder: started.holder,
    leaseMs: o.leaseMs,
    counts: noCounts(),
    pages: 0,
    onPage: options.onPage,
    reader: {
      pageSize: o.pageSize,
      retries: o.retries,
      backoffMs: o.backoffMs,
      maxRetryAfterSeconds: o.maxRetryAfterSeconds,
      maxThrottled: o.maxThrottled,
      keepAlive: () => renewLease(db, integration.id, started.holder, o.leaseMs),
    },
  };
  const stopHeartbeat = keepLeaseAlive(integration.id, started.holder, o.leaseMs);
  let error: unknown = null;
  let resynced = false;
  try {
    try {
      await walkScope(walk, started.resumeLink);
    } catch (first) {
      if (!(first instanceof DeltaExpiredError)) throw first;
      resynced = true;
      await startOver(walk);
      await walkScope(walk, null);
    }
  } catch (caught) {
    error = caught;
  }
  const message = error === null ? null : sentence(error, o.retries);
  try {
    const finishedAt = new Date();
    // Conditional: a run that lost its lock was already marked failed by the run that took over.
    await db.syncRun.updateMany({
      where: { id: started.runId, status: "running" },
      data: {
        ...(error === null ? { status: "succeeded", finishedAt, resumeLink: null } : { status: "failed", finishedAt, errorMessage: message }),
        ...(resynced ? { mode: "full" } : {}),
      },
    });
    const run = await db.syncRun.findUniqueOrThrow({ where: { id: started.runId } });
    const counts = { created: run.created, updated: run.updated, deactivated: run.deactivated, conflicts: run.conflicts, errors: run.errors };
    countRun(error === null ? "succeeded" : "failed", (finishedAt.getTime() - run.startedAt.getTime()) / 1000, run.pagesDone, counts);
    log.info(
      { integrationId: integration.id, runId: run.id, outcome: error === null ? "succeeded" : "failed", pages: run.pagesDone, ...counts },
      "Entra ID Sync run ended",
    );
    await audit({
      action: error === null ? "sync.run.succeeded" : "sync.run.failed",
      orgId: integration.orgId,
      targetType: "sync_run",
      targetId: run.id,
      result: error === null ? "success" : "failure",
      detail: { ...counts, pages: run.pagesDone, fullResync: resynced, error: message },
    });
    return { kind: error === null ? "succeeded" : "failed", runId: run.id, counts, error: message };
  } catch (failure) {
    log.error({ err: failure, integrationId: integration.id, runId: started.runId }, "Entra ID Sync could not record the end of a run");
    countRun("failed", null, walk.pages, walk.counts);
    return { kind: "failed", runId: started.runId, counts: walk.counts, error: message };
  } finally {
    stopHeartbeat();
    await releaseLease(integration.id, started.holder).catch(() => {});
  }
}

function countRun(outcome: "succeeded" | "failed", seconds: number | null, pages: number, counts: Counts) {
  metrics.syncRuns.inc({ outcome });
  if (seconds !== null) metrics.syncSeconds.observe(seconds);
  metrics.syncPages.inc(pages);
  for (const change of ["created", "updated", "deactivated"] as const) metrics.syncUsers.inc({ change }, counts[change]);
}

/** What the admin reads in the run's history. */
function sentence(error: unknown, retries: number): string {
  if (error instanceof MicrosoftUnavailableError) {
    return error.status === 429
      ? "Microsoft Graph kept asking the portal to slow down (429). The next run continues from the last saved page."
      : `Microsoft Graph could not be reached (${error.reason}) after ${retries + 1} attempts. The next run continues from the last saved page.`;
  }
  if (error instanceof TokenRefusedError) {
    return `Microsoft refused the portal an app-only token for this tenant (${error.message.slice(0, 300)}). An admin of the tenant may have removed the app's consent: check the integration under Users → Microsoft integrations.`;
  }
  if (error instanceof GraphRefusedError && error.status === 403) {
    return "Microsoft Graph refused to list the directory (403). The app needs the User.Read.All and GroupMember.Read.All application permissions, granted by an admin of the tenant.";
  }
  if (error instanceof GraphRefusedError || error instanceof GroupNotFoundError || error instanceof LockLostError) return error.message;
  if (error instanceof DeltaExpiredError) return "Microsoft Graph expired the delta token again during a full resync. The next run starts over.";
  log.error({ err: error }, "Entra ID Sync stopped on an unexpected error");
  return `The sync stopped on an unexpected error (${String((error as Error)?.message ?? error).slice(0, 200)}). The next run continues from the last saved page.`;
}

/** Runs now and waits for the end (the schedule, tests). */
export async function runSync(integrationId: string, trigger: SyncTrigger, options: SyncOptions = {}, actorId: string | null = null): Promise<RunOutcome> {
  const started = await beginRun(integrationId, trigger, options, actorId);
  return started.kind === "started" ? finishRun(started) : started;
}

const inFlight = new Set<Promise<RunOutcome>>();

/** "Sync now": takes the lock and opens the run (so the page shows it at once), then runs in the background. */
export async function startSync(
  integrationId: string,
  trigger: SyncTrigger,
  options: SyncOptions = {},
  actorId: string | null = null,
): Promise<{ kind: "started"; runId: string } | NotStarted> {
  const started = await beginRun(integrationId, trigger, options, actorId);
  if (started.kind !== "started") return started;
  const done = finishRun(started);
  inFlight.add(done);
  void done.finally(() => inFlight.delete(done));
  return { kind: "started", runId: started.runId };
}

/** Resolves once no run started by startSync in this process is going (tests, shutdown). */
export async function backgroundSyncsSettled() {
  while (inFlight.size) await Promise.allSettled([...inFlight]);
}
