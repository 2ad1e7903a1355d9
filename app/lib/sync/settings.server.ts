// The org's sync connection (one integration per org) and its scope, and what the admin page shows.
// Every query is scoped by the admin's org.
import { actorOf, changeMethods } from "../signin/change.server.ts";
import { orgMethods, strategyUserSelect } from "../signin/methods.server.ts";
import { db } from "../db.server.ts";
import { env } from "../env.server.ts";
import { missingPermissions, missingPermissionsSentence } from "../microsoft/permissions.ts";
import type { LiveSession } from "../session.server.ts";
import type { Prisma } from "~/generated/prisma/client.ts";
import { conflictRecord } from "./apply.server.ts";
import { acquireLease, leaseHeld, newHolder, releaseLease } from "./lock.server.ts";
import { attributes } from "./records.server.ts";
import { groupName } from "./groups.server.ts";
import { groupLabel, scopeImpact, type ScopeImpact } from "./scope-impact.server.ts";

export type SyncScopeChoice = { integrationId: string; scope: "tenant" | "group"; groupId: string | null; groupName?: string | null };

export type ConnectResult =
  | { kind: "done"; message: string }
  | { kind: "confirm"; from: string; to: string; scopeChanges: boolean; impact: ScopeImpact }
  | { kind: "refused"; field: "integrationId" | "groupId" | "form"; message: string };

const RUNNING = "A sync is running now. Wait until it ends (its progress is shown on this page), then change the connection.";
export const HISTORY = 20;
const LOCKOUT =
  "Nothing was changed: no admin would be left who can sign in with a password and authenticator app. Give an admin a password first (a set-password link from their user page).";

export const integrationName = (i: { displayName: string | null; tenantDomain: string | null; tenantId: string }) =>
  i.displayName ?? i.tenantDomain ?? i.tenantId;

/**
 * Holds the locks of these integrations while settings change, so that no run starts or goes on with the
 * old scope. False when a run holds one of them.
 */
async function whileIdle(ids: string[], change: () => Promise<void>): Promise<boolean> {
  const holder = newHolder();
  const held: string[] = [];
  try {
    for (const id of ids) {
      if (!(await acquireLease(id, holder, 60_000))) return false;
      held.push(id);
    }
    await change();
    return true;
  } finally {
    for (const id of held) await releaseLease(id, holder);
  }
}

/** Forgets where the integration's sync was, so that its next run reads the whole scope (and sweeps). */
const forgetProgress = (integrationId: string) =>
  db.$transaction([
    db.integration.update({ where: { id: integrationId }, data: { usersDeltaLink: null, groupsDeltaLink: null } }),
    db.syncRun.updateMany({ where: { integrationId }, data: { resumeLink: null } }),
  ]);

/**
 * Makes an active integration of the admin's org its sync connection with this scope. Replacing a
 * connection, or changing its scope, needs `confirmed`: the next run reads everything again, and users
 * outside the new scope are deactivated.
 */
export async function connect(session: LiveSession, choice: SyncScopeChoice, confirmed: boolean, address: string): Promise<ConnectResult> {
  const orgId = session.user.orgId;
  const [org, target] = await Promise.all([
    db.organization.findUniqueOrThrow({ where: { id: orgId }, include: { syncIntegration: true } }),
    db.integration.findFirst({ where: { id: choice.integrationId, orgId, status: "active" } }),
  ]);
  if (!target) return { kind: "refused", field: "integrationId", message: "Choose one of your organization's active integrations." };
  const current = org.syncIntegration;
  const sameScope = current?.id === target.id && target.syncScope === choice.scope && (choice.scope === "tenant" || target.syncGroupId === choice.groupId);
  if (sameScope) return { kind: "done", message: "Nothing changed: that is the sync connection and scope already." };
  if (choice.scope === "group") {
    // The name is Graph's, not the form's; a group the tenant does not know is refused before anything changes.
    const named = await groupName(target.tenantId, choice.groupId!);
    if (named.kind === "ok" && named.displayName === null)
      return {
        kind: "refused",
        field: "groupId",
        message: `${integrationName(target)} has no group with the object ID ${choice.groupId}. Search for the group by name instead.`,
      };
    choice = { ...choice, groupName: named.kind === "ok" ? named.displayName : null };
  }
  if (current && !confirmed)
    return {
      kind: "confirm",
      from: integrationName(current),
      to: integrationName(target),
      scopeChanges: current.id === target.id,
      impact: await scopeImpact(target, choice),
    };

  let lockout = false;
  const ok = await whileIdle([...new Set([current?.id, target.id].filter((id): id is string => !!id))], async () => {
    // Through the method-change path: users synced from the old connection may stop signing in with Microsoft.
    const outcome = await changeMethods(
      actorOf(session, address),
      { kind: "sync_connection", integrationId: target.id },
      {
        audit: {
          action: "sync.connection.changed",
          targetType: "integration",
          targetId: target.id,
          detail: {
            tenantId: target.tenantId,
            scope: choice.scope,
            groupId: choice.groupId,
            replaced: current && current.id !== target.id ? current.tenantId : null,
          },
        },
      },
      async (tx) => {
        await tx.integration.update({
          where: { id: target.id },
          data: {
            syncScope: choice.scope,
            syncGroupId: choice.scope === "group" ? choice.groupId : null,
            syncGroupName: choice.scope === "group" ? (choice.groupName ?? null) : null,
          },
        });
        await tx.organization.update({ where: { id: orgId }, data: { syncIntegrationId: target.id } });
      },
    );
    lockout = outcome.kind === "confirm_lockout";
    if (lockout) return;
    if (current && current.id !== target.id) await forgetProgress(current.id);
    await forgetProgress(target.id);
  });
  if (!ok) return { kind: "refused", field: "form", message: RUNNING };
  if (lockout) return { kind: "refused", field: "form", message: LOCKOUT };
  const what = choice.scope === "group" ? `the members of ${groupLabel(choice.groupId!, choice.groupName ?? null)}` : "the whole tenant";
  return { kind: "done", message: `Entra ID Sync now reads ${what} of ${integrationName(target)}. Press "Sync now" or wait for the schedule.` };
}

/** Stops syncing; synced users stay as they are (nobody is deactivated) and are no longer updated. */
export async function disconnect(session: LiveSession, address: string): Promise<{ ok: boolean; message: string }> {
  const org = await db.organization.findUniqueOrThrow({ where: { id: session.user.orgId }, include: { syncIntegration: true } });
  const current = org.syncIntegration;
  if (!current) return { ok: true, message: "Entra ID Sync was already off." };
  let lockout = false;
  const ok = await whileIdle([current.id], async () => {
    // Synced users who signed in with Microsoft through this connection stop doing so: their Microsoft sessions end.
    const outcome = await changeMethods(
      actorOf(session, address),
      { kind: "sync_connection", integrationId: null },
      { audit: { action: "sync.connection.stopped", targetType: "integration", targetId: current.id, detail: { tenantId: current.tenantId } } },
      (tx) => tx.organization.update({ where: { id: org.id }, data: { syncIntegrationId: null } }),
    );
    lockout = outcome.kind === "confirm_lockout";
    if (!lockout) await forgetProgress(current.id);
  });
  if (!ok) return { ok: false, message: RUNNING.replace("change the connection", "stop syncing") };
  if (lockout) return { ok: false, message: LOCKOUT };
  return { ok: true, message: `Entra ID Sync stopped. Users synced from ${integrationName(current)} stay as they are.` };
}

/** What the connection's last app-only token lacked for syncing its scope, as a sentence; null when nothing or unknown. */
function permissionsSentence(connection: { grantedRoles: string | null; syncScope: string }): string | null {
  if (connection.grantedRoles === null) return null;
  const use = { sync: true as const, groupScope: connection.syncScope === "group" };
  const missing = missingPermissions(use, connection.grantedRoles.split(" ").filter(Boolean));
  return missing.length ? missingPermissionsSentence(use, missing) : null;
}

const RUN_INCLUDE = { integration: { select: { tenantId: true, displayName: true, tenantDomain: true, syncLockedUntil: true } } } as const;
type RunRow = Prisma.SyncRunGetPayload<{ include: typeof RUN_INCLUDE }>;

const runView = (r: RunRow) => ({
  id: r.id,
  tenant: integrationName(r.integration),
  trigger: r.trigger,
  mode: r.mode as "full" | "delta" | null,
  resumed: r.resumed,
  // "running" whose lease ran out: the holder died; the next run marks it failed and continues it.
  status: r.status === "running" && !leaseHeld(r.integration) ? "interrupted" : r.status,
  startedAt: r.startedAt.toISOString(),
  finishedAt: r.finishedAt?.toISOString() ?? null,
  pagesDone: r.pagesDone,
  created: r.created,
  updated: r.updated,
  deactivated: r.deactivated,
  conflicts: r.conflicts,
  errors: r.errors,
  errorMessage: r.errorMessage,
});

/**
 * The org's runs, newest first, HISTORY at a time; `before` is the ID of the last run of the previous page (a
 * run of another org, or an unknown ID, reads from the newest).
 */
async function history(orgId: string, before: string | null) {
  const cursor = before ? await db.syncRun.findFirst({ where: { id: before, integration: { orgId } }, select: { id: true, startedAt: true } }) : null;
  const rows = await db.syncRun.findMany({
    where: {
      integration: { orgId },
      ...(cursor ? { OR: [{ startedAt: { lt: cursor.startedAt } }, { startedAt: cursor.startedAt, id: { lt: cursor.id } }] } : {}),
    },
    orderBy: [{ startedAt: "desc" }, { id: "desc" }],
    take: HISTORY + 1,
    include: RUN_INCLUDE,
  });
  return { runs: rows.slice(0, HISTORY), older: rows.length > HISTORY ? rows[HISTORY - 1]!.id : null, paged: Boolean(cursor) };
}

/**
 * Active synced users of the org: those the current connection syncs, and those left from an earlier one
 * (another integration, or none) with how each of them signs in now — the rule's answer, not a copy of it.
 */
export async function syncedStanding(orgId: string) {
  const { state, strategyOf } = await orgMethods(orgId);
  const current = state.syncIntegrationId;
  const [byConnection, leftovers] = await Promise.all([
    current ? db.user.count({ where: { orgId, source: "synced", status: "active", syncIntegrationId: current } }) : 0,
    db.user.findMany({
      where: { orgId, source: "synced", status: "active", ...(current ? { OR: [{ syncIntegrationId: null }, { syncIntegrationId: { not: current } }] } : {}) },
      select: strategyUserSelect,
    }),
  ]);
  const left = { total: leftovers.length, password: 0, none: 0, microsoft: 0 };
  for (const user of leftovers) left[strategyOf(user).method]++;
  return { byConnection, left };
}

/** Everything the Entra ID Sync page shows, for the admin's org only. */
export async function syncOverview(orgId: string, before: string | null = null) {
  const [org, integrations, page, conflicts, standing, running] = await Promise.all([
    db.organization.findUniqueOrThrow({ where: { id: orgId }, include: { syncIntegration: true } }),
    db.integration.findMany({
      where: { orgId, status: "active" },
      orderBy: { createdAt: "asc" },
      select: { id: true, tenantId: true, displayName: true, tenantDomain: true },
    }),
    history(orgId, before),
    db.syncConflict.findMany({
      where: { status: "open", localUser: { orgId }, syncRun: { integration: { orgId } } },
      orderBy: { createdAt: "asc" },
      take: 100,
      include: { localUser: { select: { id: true, name: true, email: true, source: true } } },
    }),
    syncedStanding(orgId),
    db.syncRun.findFirst({ where: { integration: { orgId }, status: "running" }, orderBy: { startedAt: "desc" }, include: RUN_INCLUDE }),
  ]);
  const connection = org.syncIntegration;
  return {
    connection: connection
      ? {
          id: connection.id,
          name: integrationName(connection),
          tenantId: connection.tenantId,
          status: connection.status,
          scope: connection.syncScope as "tenant" | "group",
          groupId: connection.syncGroupId,
          groupName: connection.syncGroupName,
          missingPermissions: permissionsSentence(connection),
        }
      : null,
    integrations: integrations.map((i) => ({ id: i.id, name: integrationName(i), tenantId: i.tenantId })),
    runs: page.runs.map(runView),
    current: running && runView(running).status === "running" ? runView(running) : null,
    older: page.older,
    paged: page.paged,
    standing,
    intervalMinutes: env().SYNC_INTERVAL_MINUTES,
    conflicts: conflicts.map((c) => {
      const directory = attributes(conflictRecord(c));
      return {
        id: c.id,
        directory: { name: directory.name ?? null, email: directory.email ?? null, upn: directory.upn ?? null, jobTitle: directory.jobTitle ?? null },
        local: { name: c.localUser.name, email: c.localUser.email, synced: c.localUser.source === "synced" },
        createdAt: c.createdAt.toISOString(),
      };
    }),
  };
}
