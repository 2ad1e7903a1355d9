// Writes one page of directory users inside the page's transaction, with a fixed number of statements per
// page (reads by IN lists, one multi-row insert, one update per changed user). Users are keyed by (tid, oid) only;
// an email or Microsoft identity that already belongs to someone becomes a conflict, never a merge.
import type { Prisma } from "~/generated/prisma/client.ts";
import { applyDirectoryChanges } from "../signin/change.server.ts";
import { insertSyncedUsers } from "./insert.server.ts";
import type { Tx } from "./lock.server.ts";
import { attributes, complete, merge, type DirectoryUser } from "./records.server.ts";

export type Counts = { created: number; updated: number; deactivated: number; conflicts: number; errors: number };

export const noCounts = (): Counts => ({ created: 0, updated: 0, deactivated: 0, conflicts: 0, errors: 0 });

export function addCounts(a: Counts, b: Counts): Counts {
  return {
    created: a.created + b.created,
    updated: a.updated + b.updated,
    deactivated: a.deactivated + b.deactivated,
    conflicts: a.conflicts + b.conflicts,
    errors: a.errors + b.errors,
  };
}

/** What a run writes with: its integration, that integration's org and tenant, the run, and the run's clock. */
export type SyncScope = { integrationId: string; orgId: string; tenantId: string; runId: string; now: Date };

const ROW = {
  id: true,
  orgId: true,
  name: true,
  email: true,
  phone: true,
  jobTitle: true,
  entraUpn: true,
  entraObjectId: true,
  status: true,
  syncIntegrationId: true,
} as const;
type Row = Prisma.UserGetPayload<{ select: typeof ROW }>;
type Conflict = Prisma.SyncConflictGetPayload<object>;

type Change = { row: Row; data: Prisma.UserUncheckedUpdateInput; deactivates: boolean };
type Create = { user: DirectoryUser; conflict: Conflict | undefined };
type Plan = {
  changes: Change[];
  /** Seen and unchanged: only lastSyncedAt is written. */
  touched: string[];
  creates: Create[];
  conflictUpdates: { id: string; data: Prisma.SyncConflictUncheckedUpdateInput }[];
  conflictCreates: Prisma.SyncConflictCreateManyInput[];
};

/** The status sync wants for a user; an admin's "disabled" is never overridden. */
function nextStatus(current: string, user: DirectoryUser): string {
  if (current === "disabled") return current;
  if (user.removed) return "deactivated";
  if (user.enabled === undefined) return current;
  return user.enabled ? "active" : "deactivated";
}

export function conflictRecord(conflict: { directoryData: string }): Record<string, unknown> {
  try {
    const raw = JSON.parse(conflict.directoryData) as unknown;
    return raw && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The directory record a conflict keeps, brought up to date with what this page says. */
function withConflict(conflict: Conflict | undefined, user: DirectoryUser): DirectoryUser {
  if (!conflict || user.removed) return user;
  const raw = { ...conflictRecord(conflict), ...user.raw };
  return { ...attributes(raw), oid: user.oid, removed: null, raw };
}

/**
 * Applies users read from Graph. With `admit`, users outside this integration's scope are brought in
 * (tenant scope; members added to the scope group); without it only users already in scope are touched
 * (the users side of a group scope, where membership comes from the group).
 */
export async function applyUsers(tx: Tx, scope: SyncScope, users: DirectoryUser[], admit: boolean): Promise<Counts> {
  const counts = noCounts();
  const byOid = new Map<string, DirectoryUser>();
  for (const user of users) {
    const seen = byOid.get(user.oid);
    byOid.set(user.oid, seen ? merge(seen, user) : user);
  }
  if (!byOid.size) return counts;
  const oids = [...byOid.keys()];
  const [rows, conflicts] = await Promise.all([
    tx.user.findMany({ where: { entraTenantId: scope.tenantId, entraObjectId: { in: oids } }, select: ROW }),
    // Most tenants have no conflict and no link: one indexed probe saves a lookup of every ID on every page.
    tx.syncConflict
      .findFirst({ where: { entraTenantId: scope.tenantId }, select: { id: true } })
      .then((any) => (any ? tx.syncConflict.findMany({ where: { entraTenantId: scope.tenantId, entraObjectId: { in: oids } } }) : [])),
  ]);
  const rowOf = new Map(rows.map((r) => [r.entraObjectId!, r]));
  const conflictOf = new Map(conflicts.map((c) => [c.entraObjectId, c]));
  const plan: Plan = { changes: [], touched: [], creates: [], conflictUpdates: [], conflictCreates: [] };
  for (const user of byOid.values()) {
    const row = rowOf.get(user.oid);
    if (row) planExisting(plan, scope, row, user, admit, counts);
    else planNew(plan, scope, user, conflictOf.get(user.oid), admit);
  }
  await settleIdentifiers(tx, scope, plan, counts);
  await write(tx, scope, plan, counts);
  return counts;
}

function planExisting(plan: Plan, scope: SyncScope, row: Row, user: DirectoryUser, admit: boolean, counts: Counts) {
  // (tid, oid) belongs to one org (a tenant is registered by one org only); anything else is damage, not data.
  if (row.orgId !== scope.orgId) {
    counts.errors++;
    return;
  }
  if (!admit && row.syncIntegrationId !== scope.integrationId) return;
  const data: Prisma.UserUncheckedUpdateInput = {};
  if (user.name !== undefined && user.name !== row.name) data.name = user.name;
  if (user.email !== undefined && user.email !== row.email) data.email = user.email;
  if (user.phone !== undefined && user.phone !== row.phone) data.phone = user.phone;
  if (user.jobTitle !== undefined && user.jobTitle !== row.jobTitle) data.jobTitle = user.jobTitle;
  if (user.upn !== undefined && user.upn !== row.entraUpn) data.entraUpn = user.upn;
  const status = nextStatus(row.status, user);
  if (status !== row.status) data.status = status;
  // A permanently deleted user, or one who left the group, is out of scope; a soft-deleted one may come back.
  const leaves = user.removed === "deleted" || user.removed === "left_scope";
  const scopeId = leaves ? null : admit ? scope.integrationId : row.syncIntegrationId;
  if (scopeId !== row.syncIntegrationId) data.syncIntegrationId = scopeId;
  if (!Object.keys(data).length) return void plan.touched.push(row.id);
  plan.changes.push({ row, data, deactivates: row.status === "active" && status === "deactivated" });
}

function planNew(plan: Plan, scope: SyncScope, user: DirectoryUser, conflict: Conflict | undefined, admit: boolean) {
  if (user.removed) {
    if (conflict?.status === "open")
      plan.conflictUpdates.push({ id: conflict.id, data: { status: "resolved", resolution: "left_directory", resolvedAt: scope.now } });
    return;
  }
  const full = withConflict(conflict, user);
  if (admit && complete(full)) plan.creates.push({ user: full, conflict });
  else if (conflict) plan.conflictUpdates.push({ id: conflict.id, data: { directoryData: JSON.stringify(full.raw) } });
}

/**
 * Emails and mobile numbers identify people at sign-in, so they stay unique. A new user whose email or
 * Microsoft identity is already someone's in the org becomes a conflict; one whose email is used in another
 * org is an error (the admin must not learn about other orgs' users). A changed email that is taken stays
 * as it was (an error); a mobile number that is taken is left out.
 */
async function settleIdentifiers(tx: Tx, scope: SyncScope, plan: Plan, counts: Counts) {
  const emails = new Set<string>();
  const phones = new Set<string>();
  for (const { data } of plan.changes) {
    if (typeof data.email === "string") emails.add(data.email);
    if (typeof data.phone === "string") phones.add(data.phone);
  }
  for (const { user } of plan.creates) {
    if (user.email) emails.add(user.email);
    if (user.phone) phones.add(user.phone);
  }
  const [emailOwners, phoneOwners, links] = await Promise.all([
    emails.size ? tx.user.findMany({ where: { email: { in: [...emails] } }, select: { id: true, orgId: true, email: true } }) : [],
    phones.size ? tx.user.findMany({ where: { phone: { in: [...phones] } }, select: { id: true, phone: true } }) : [],
    plan.creates.length
      ? tx.microsoftLink.findFirst({ where: { tenantId: scope.tenantId }, select: { id: true } }).then((any) =>
          any
            ? tx.microsoftLink.findMany({
                where: { tenantId: scope.tenantId, objectId: { in: plan.creates.map((c) => c.user.oid) } },
                select: { userId: true, objectId: true },
              })
            : [],
        )
      : [],
  ]);
  // Owners in the database, then whoever claims one earlier in this page (a user id, or an oid for creates).
  const emailOwner = new Map<string, { id: string; orgId: string }>(emailOwners.map((u) => [u.email!, u]));
  const phoneOwner = new Map<string, string>(phoneOwners.map((u) => [u.phone!, u.id]));
  const linkOwner = new Map(links.map((l) => [l.objectId, l.userId]));

  for (const { row, data } of plan.changes) {
    if (typeof data.email === "string") {
      const owner = emailOwner.get(data.email);
      if (owner && owner.id !== row.id) {
        delete data.email;
        counts.errors++;
      } else emailOwner.set(data.email, { id: row.id, orgId: scope.orgId });
    }
    if (typeof data.phone === "string") {
      const owner = phoneOwner.get(data.phone);
      if (owner && owner !== row.id) data.phone = null;
      else phoneOwner.set(data.phone, row.id);
    }
  }

  const creates: Create[] = [];
  for (const create of plan.creates) {
    const { user, conflict } = create;
    const emailHolder = user.email ? emailOwner.get(user.email) : undefined;
    const localUserId = linkOwner.get(user.oid) ?? (emailHolder?.orgId === scope.orgId ? emailHolder.id : undefined);
    if (localUserId) {
      raiseConflict(plan, scope, user, localUserId, conflict, counts);
      continue;
    }
    if (emailHolder) {
      counts.errors++;
      continue;
    }
    if (user.email) emailOwner.set(user.email, { id: user.oid, orgId: scope.orgId });
    if (user.phone && phoneOwner.has(user.phone)) user.phone = null;
    else if (user.phone) phoneOwner.set(user.phone, user.oid);
    // The collision behind an open conflict is gone (an email changed): the user is created after all.
    if (conflict?.status === "open") plan.conflictUpdates.push({ id: conflict.id, data: { status: "resolved", resolution: "cleared", resolvedAt: scope.now } });
    creates.push(create);
  }
  plan.creates = creates;
}

function raiseConflict(plan: Plan, scope: SyncScope, user: DirectoryUser, localUserId: string, conflict: Conflict | undefined, counts: Counts) {
  const directoryData = JSON.stringify(user.raw);
  if (!conflict) {
    plan.conflictCreates.push({ syncRunId: scope.runId, localUserId, entraTenantId: scope.tenantId, entraObjectId: user.oid, directoryData });
    counts.conflicts++;
    return;
  }
  // The admin chose to keep them apart: keep what the directory says, ask nothing again.
  if (conflict.status === "resolved" && conflict.resolution === "kept_separate") {
    plan.conflictUpdates.push({ id: conflict.id, data: { directoryData } });
    return;
  }
  if (conflict.status !== "open") counts.conflicts++;
  plan.conflictUpdates.push({
    id: conflict.id,
    data: { directoryData, localUserId, status: "open", resolution: null, resolvedAt: null, syncRunId: scope.runId },
  });
}

async function write(tx: Tx, scope: SyncScope, plan: Plan, counts: Counts) {
  const now = scope.now;
  counts.created += await insertSyncedUsers(
    tx,
    plan.creates.map(({ user }) => ({
      orgId: scope.orgId,
      name: user.name!,
      email: user.email ?? null,
      phone: user.phone ?? null,
      jobTitle: user.jobTitle ?? null,
      status: user.enabled === false ? "deactivated" : "active",
      entraTenantId: scope.tenantId,
      entraObjectId: user.oid,
      entraUpn: user.upn ?? null,
      syncIntegrationId: scope.integrationId,
      lastSyncedAt: now,
    })),
  );
  for (const change of plan.changes) {
    await tx.user.update({ where: { id: change.row.id }, data: { ...change.data, lastSyncedAt: now } });
    // Coming into or leaving the scope alone is not an update the admin needs to count.
    if (change.deactivates) counts.deactivated++;
    else if (Object.keys(change.data).some((key) => key !== "syncIntegrationId")) counts.updated++;
  }
  if (plan.touched.length) await tx.user.updateMany({ where: { id: { in: plan.touched } }, data: { lastSyncedAt: now } });
  // Through the one door: deactivated users are signed out everywhere; whoever the change puts on Microsoft
  // keeps no password.
  await applyDirectoryChanges(tx, scope.orgId, {
    deactivated: plan.changes.filter((c) => c.deactivates).map((c) => c.row.id),
    changed: plan.changes.filter((c) => !c.deactivates && ("status" in c.data || "syncIntegrationId" in c.data)).map((c) => c.row.id),
  });
  if (plan.conflictCreates.length) await tx.syncConflict.createMany({ data: plan.conflictCreates });
  for (const { id, data } of plan.conflictUpdates) await tx.syncConflict.update({ where: { id }, data });
}
