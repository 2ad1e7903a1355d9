// Microsoft links of local users: create after a verified callback, unlink, admin revoke.
// Keyed on (tid, oid) only; the UPN and name are kept for display.
import type { User } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { isUniqueViolation } from "./db-errors.server.ts";
import { audit } from "./audit.server.ts";
import type { VerifiedIdentity } from "./microsoft/signin.server.ts";
import { actorOf, changeMethods, type Actor } from "./signin/change.server.ts";
import type { LiveSession } from "./session.server.ts";
import { sendSetPasswordLinks, setPasswordOutcome } from "./set-password.server.ts";
import { freshness } from "./signin/step-up.server.ts";

export type LinkResult = { ok: true; passwordRemoved: boolean } | { ok: false; reason: "wrong_tenant" | "taken" | "already_linked" | "confirm_lockout" };

/**
 * Links the verified identity to the user, through the method-change path: the password the link replaces
 * is removed, and the last admin on password is warned first (`lockoutConfirmed`).
 */
export async function createLink(user: User, identity: VerifiedIdentity, address: string, options: { lockoutConfirmed?: boolean } = {}): Promise<LinkResult> {
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
  const actor: Actor = { userId: user.id, orgId: user.orgId, address };
  try {
    const outcome = await changeMethods(
      actor,
      { kind: "link", userId: user.id, integrationId: integration.id },
      { lockoutConfirmed: options.lockoutConfirmed, audit: { action: "link.created", detail: base.detail } },
      async (tx) => {
        await tx.microsoftLink.create({
          data: {
            userId: user.id,
            integrationId: integration.id,
            tenantId: identity.tenantId,
            objectId: identity.objectId,
            displayName: identity.name,
            upn: identity.upn ?? identity.email,
          },
        });
        await tx.user.update({ where: { id: user.id }, data: { linkPrompt: "ask" } });
      },
    );
    if (outcome.kind === "confirm_lockout") return { ok: false, reason: "confirm_lockout" };
    if (outcome.kind === "refused") throw new Error(`linking was refused: ${outcome.code}`);
    return { ok: true, passwordRemoved: outcome.passwordsRemoved > 0 };
  } catch (error) {
    // The unique (tid, oid) index lost a race with another request: the identity is taken.
    if (isUniqueViolation(error)) return { ok: false, reason: "taken" };
    throw error;
  }
}

export async function linkOf(userId: string) {
  return db.microsoftLink.findUnique({ where: { userId }, include: { integration: { select: { tenantId: true, displayName: true, status: true } } } });
}

export type UnlinkResult = { ok: true; to: "password" | "none" | "microsoft" } | { ok: false; reason: "not_linked" | "confirm_lockout" };

/**
 * Removes the link (the user's own unlink, or an admin's revoke) and, through the method-change path, ends
 * every Microsoft session it allowed — the one in use included: that way of signing in is gone.
 */
export async function removeLink(user: User, actor: Actor, options: { lockoutConfirmed?: boolean } = {}): Promise<UnlinkResult> {
  const link = await db.microsoftLink.findUnique({ where: { userId: user.id } });
  if (!link) return { ok: false, reason: "not_linked" };
  const outcome = await changeMethods(
    actor,
    { kind: "link", userId: user.id, integrationId: null },
    {
      lockoutConfirmed: options.lockoutConfirmed,
      audit: { action: actor.userId === user.id ? "link.removed" : "link.revoked", detail: { tenantId: link.tenantId, objectId: link.objectId } },
    },
    (tx) => tx.microsoftLink.deleteMany({ where: { id: link.id } }),
  );
  if (outcome.kind === "confirm_lockout") return { ok: false, reason: "confirm_lockout" };
  if (outcome.kind === "refused") throw new Error(`unlinking was refused: ${outcome.code}`);
  return { ok: true, to: outcome.preview.target?.to ?? "none" };
}

export type RevokeOutcome = { ok: true; message: string } | { ok: false; status: 400 | 404 | 409; message: string };

/** An admin revokes a user's link (their org only); whoever it leaves with no method may be sent a set-password link. */
export async function revokeLink(
  admin: LiveSession,
  userId: string,
  address: string,
  options: { sendLink?: boolean; lockoutConfirmed?: boolean } = {},
): Promise<RevokeOutcome> {
  const user = await db.user.findFirst({ where: { id: userId, orgId: admin.user.orgId } });
  if (!user) return { ok: false, status: 404, message: "No such user in your organization." };
  const result = await removeLink(user, actorOf(admin, address), options);
  if (!result.ok && result.reason === "not_linked") return { ok: false, status: 400, message: `${user.name} has no linked Microsoft account.` };
  if (!result.ok)
    return {
      ok: false,
      status: 409,
      message: `Nothing was revoked: ${user.name} is the last admin who could sign in, and would be left with no way in. Confirm to revoke anyway.`,
    };
  let message = `The Microsoft link of ${user.name} was revoked and their Microsoft sessions ended.`;
  if (result.to === "none") message += ` ${await setPasswordOutcome(admin, [user], Boolean(options.sendLink))}`;
  return { ok: true, message };
}

export type UnlinkSelf =
  | { kind: "unlinked"; to: "password" | "none" | "microsoft"; emailedTo: string | null; signedOut: boolean }
  | { kind: "step_up" }
  | { kind: "not_linked" }
  | { kind: "confirm_lockout" };

/**
 * The user unlinks their own account: a factor change (recent sign-in with the current method). Their Microsoft
 * sessions end, this one included; a user left with no method is emailed a set-password link.
 */
export async function unlinkSelf(session: LiveSession, address: string, options: { lockoutConfirmed?: boolean } = {}): Promise<UnlinkSelf> {
  if (!(await freshness(session)).recent) return { kind: "step_up" };
  const result = await removeLink(session.user, actorOf(session, address), options);
  if (!result.ok) return { kind: result.reason };
  let emailedTo: string | null = null;
  if (result.to === "none") emailedTo = (await sendSetPasswordLinks(session.user.orgId, [session.userId], session.userId)).sent[0] ?? null;
  const signedOut = !(await db.session.findUnique({ where: { id: session.id }, select: { id: true } }));
  return { kind: "unlinked", to: result.to, emailedTo, signedOut };
}
