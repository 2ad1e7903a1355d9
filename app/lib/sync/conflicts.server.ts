// A directory user whose email (or Microsoft identity, through a link) already belongs to a user of the org
// is never merged by sync. The admin decides: "attach" makes that user the synced user for the directory's
// (tid, oid); "keep separate" leaves both apart and sync stops asking.
import { audit } from "../audit.server.ts";
import { actorOf, changeMethods } from "../signin/change.server.ts";
import { db } from "../db.server.ts";
import type { LiveSession } from "../session.server.ts";
import { conflictRecord } from "./apply.server.ts";
import { attributes } from "./records.server.ts";

export type Resolution = "attach" | "separate";
export type ResolveResult = { ok: true; message: string } | { ok: false; message: string; confirmLockout?: boolean };

/** Thrown inside the door's transaction to roll the attach back: the identity is another user's. */
class IdentityTaken extends Error {}

export async function resolveConflict(
  session: LiveSession,
  conflictId: string,
  resolution: Resolution,
  address: string,
  options: { lockoutConfirmed?: boolean } = {},
): Promise<ResolveResult> {
  const orgId = session.user.orgId;
  const conflict = await db.syncConflict.findFirst({
    where: { id: conflictId, status: "open", localUser: { orgId }, syncRun: { integration: { orgId } } },
    include: { localUser: true, syncRun: { include: { integration: { include: { syncOrg: { select: { id: true } } } } } } },
  });
  if (!conflict) return { ok: false, message: "That conflict was already resolved, or it does not exist." };
  const { localUser: user, syncRun } = conflict;
  const integration = syncRun.integration;
  const base = { orgId, actorId: session.userId, targetType: "user", targetId: user.id, ipAddress: address };

  if (resolution === "separate") {
    await db.syncConflict.update({ where: { id: conflict.id }, data: { status: "resolved", resolution: "kept_separate", resolvedAt: new Date() } });
    await audit({
      ...base,
      action: "sync.conflict.resolved",
      detail: { resolution: "kept_separate", tenantId: conflict.entraTenantId, objectId: conflict.entraObjectId },
    });
    return { ok: true, message: `${user.name} stays a separate user; the directory user is not synced.` };
  }

  if (!integration.syncOrg || integration.status !== "active")
    return { ok: false, message: "This conflict comes from a tenant that is no longer your sync connection. Keep them separate instead." };
  if (user.entraObjectId && (user.entraObjectId !== conflict.entraObjectId || user.entraTenantId !== conflict.entraTenantId)) {
    return { ok: false, message: `${user.name} is already the synced user of another Microsoft account. Keep them separate instead.` };
  }
  const directory = attributes(conflictRecord(conflict));
  const [emailOwner, phoneOwner] = await Promise.all([
    directory.email ? db.user.findUnique({ where: { email: directory.email }, select: { id: true } }) : null,
    directory.phone ? db.user.findUnique({ where: { phone: directory.phone }, select: { id: true } }) : null,
  ]);
  const status = user.status === "disabled" ? user.status : directory.enabled === false ? "deactivated" : "active";
  const takenMessage = `That Microsoft account is now linked to another user, so ${user.name} can't become its synced user. Keep them separate instead, or revoke the other user's link first.`;
  // Through the method-change path: attaching can make the user's method Microsoft (all synced users, or their
  // flag), which removes their password — and may leave no admin on password.
  const outcome = await changeMethods(
    actorOf(session, address),
    status === "deactivated" ? { kind: "disable", userId: user.id } : { kind: "attach", userId: user.id },
    {
      lockoutConfirmed: options.lockoutConfirmed,
      // Disabled in the directory: signed out, as sync would do.
      endSessions: status === "deactivated" ? { userId: user.id, all: true } : undefined,
      audit: { action: "sync.conflict.resolved", detail: { resolution: "attached", tenantId: conflict.entraTenantId, objectId: conflict.entraObjectId } },
    },
    async (tx) => {
      // (tid, oid) belongs to one user: someone may have linked this account since the conflict was recorded.
      const linkedElsewhere = await tx.microsoftLink.findFirst({
        where: { tenantId: conflict.entraTenantId, objectId: conflict.entraObjectId, userId: { not: user.id } },
        select: { id: true },
      });
      if (linkedElsewhere) throw new IdentityTaken();
      await tx.user.update({
        where: { id: user.id },
        data: {
          source: "synced",
          entraTenantId: conflict.entraTenantId,
          entraObjectId: conflict.entraObjectId,
          entraUpn: directory.upn ?? null,
          syncIntegrationId: integration.id,
          lastSyncedAt: new Date(),
          status,
          ...(directory.name ? { name: directory.name } : {}),
          ...(directory.jobTitle !== undefined ? { jobTitle: directory.jobTitle } : {}),
          ...(directory.email && (!emailOwner || emailOwner.id === user.id) ? { email: directory.email } : {}),
          ...(directory.phone && (!phoneOwner || phoneOwner.id === user.id) ? { phone: directory.phone } : {}),
        },
      });
      // The identity now comes from sync; a link to the same (tid, oid) would name it twice.
      await tx.microsoftLink.deleteMany({ where: { userId: user.id, tenantId: conflict.entraTenantId, objectId: conflict.entraObjectId } });
      await tx.syncConflict.update({ where: { id: conflict.id }, data: { status: "resolved", resolution: "attached", resolvedAt: new Date() } });
    },
  ).catch((error: unknown) => {
    if (error instanceof IdentityTaken) return null;
    throw error;
  });
  if (!outcome) return { ok: false, message: takenMessage };
  if (outcome.kind === "confirm_lockout") {
    return {
      ok: false,
      confirmLockout: true,
      message: `Nothing was changed: as the synced user, ${user.name} would sign in with Microsoft only, and no admin would be left who can sign in with a password and authenticator app.`,
    };
  }
  return { ok: true, message: `${user.name} is now the synced user for ${directory.upn ?? "that directory user"}; sync keeps their details up to date.` };
}
