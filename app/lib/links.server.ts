// Microsoft links of local users: create after a verified callback, unlink, admin revoke.
// Keyed on (tid, oid) only; the UPN and name are kept for display.
import type { User } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { isUniqueViolation } from "./db-errors.server.ts";
import { audit } from "./audit.server.ts";
import type { VerifiedIdentity } from "./microsoft/signin.server.ts";

export const RECENT_AUTH_MINUTES = 15;

export type LinkResult = { ok: true } | { ok: false; reason: "wrong_tenant" | "taken" | "already_linked" };

export async function createLink(user: User, identity: VerifiedIdentity, address: string): Promise<LinkResult> {
  const integration = await db.integration.findFirst({ where: { orgId: user.orgId, tenantId: identity.tenantId, status: "active" } });
  const base = { orgId: user.orgId, actorId: user.id, ipAddress: address, detail: { tenantId: identity.tenantId, objectId: identity.objectId } };
  if (!integration) {
    await audit({ ...base, action: "link.created", result: "failure", detail: { ...base.detail, reason: "tenant is not an active integration of the org" } });
    return { ok: false, reason: "wrong_tenant" };
  }
  const [linked, synced, existing] = await Promise.all([
    db.microsoftLink.findUnique({ where: { tenantId_objectId: { tenantId: identity.tenantId, objectId: identity.objectId } } }),
    db.user.findUnique({ where: { entraTenantId_entraObjectId: { entraTenantId: identity.tenantId, entraObjectId: identity.objectId } } }),
    db.microsoftLink.findUnique({ where: { userId: user.id } }),
  ]);
  if (existing) return { ok: false, reason: "already_linked" };
  if ((linked && linked.userId !== user.id) || (synced && synced.id !== user.id)) {
    await audit({ ...base, action: "link.created", result: "failure", detail: { ...base.detail, reason: "identity belongs to another user" } });
    return { ok: false, reason: "taken" };
  }
  try {
    await db.microsoftLink.create({
      data: { userId: user.id, integrationId: integration.id, tenantId: identity.tenantId, objectId: identity.objectId, displayName: identity.name, upn: identity.upn ?? identity.email },
    });
  } catch (error) {
    // The unique (tid, oid) index lost a race with another request: the identity is taken.
    if (isUniqueViolation(error)) return { ok: false, reason: "taken" };
    throw error;
  }
  await db.user.update({ where: { id: user.id }, data: { linkPrompt: "ask" } });
  await audit({ ...base, action: "link.created" });
  return { ok: true };
}

export async function linkOf(userId: string) {
  return db.microsoftLink.findUnique({ where: { userId }, include: { integration: { select: { tenantId: true, displayName: true, status: true } } } });
}

export function isRecentlyAuthenticated(authenticatedAt: Date | null, now = Date.now()): boolean {
  return Boolean(authenticatedAt && now - authenticatedAt.getTime() <= RECENT_AUTH_MINUTES * 60_000);
}

/** Removes the link and ends the sessions it signed in, except the one the user is using now. */
export async function removeLink(user: User, actorId: string, address: string, keepSessionId?: string) {
  const link = await db.microsoftLink.findUnique({ where: { userId: user.id } });
  if (!link) return false;
  await db.$transaction([
    db.microsoftLink.delete({ where: { id: link.id } }),
    db.session.deleteMany({ where: { userId: user.id, authMethod: "microsoft", ...(keepSessionId ? { id: { not: keepSessionId } } : {}) } }),
  ]);
  await audit({
    orgId: user.orgId, actorId, action: actorId === user.id ? "link.removed" : "link.revoked", targetType: "user", targetId: user.id, ipAddress: address,
    detail: { tenantId: link.tenantId, objectId: link.objectId },
  });
  return true;
}
