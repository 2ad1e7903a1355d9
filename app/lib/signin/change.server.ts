// The one door for every change of a user's sign-in method or Microsoft identity (docs/decisions/011).
// Link, unlink, revoke, conflict attach, per-user SSO, all-synced, org SSO, licence, integration removal,
// sync connection, password set/reset, invitation acceptance and disable all come through `changeMethods`:
// it computes before and after with the rule, refuses or asks for a confirmation when no admin would be left
// on password + authenticator, writes the change, removes the passwords SSO replaces, ends exactly the
// sessions whose method is gone, and writes one audit event with the before and after methods.
import type { Prisma } from "~/generated/prisma/client.ts";
import { db } from "../db.server.ts";
import { audit } from "../audit.server.ts";
import { endAppGrantsOf } from "../oidc/grants.server.ts";
import { loadOrgState, strategyIn, strategyUserSelect, whatIf, type Change, type Preview } from "./methods.server.ts";

/** Who acts: a signed-in user (admin or themselves), or the operator (CLI, no user). */
export type Actor = { userId: string | null; orgId: string; address: string | null };

/** The actor of a signed-in session. */
export const actorOf = (session: { userId: string; user: { orgId: string } }, address: string | null): Actor => ({
  userId: session.userId,
  orgId: session.user.orgId,
  address,
});

export type Tx = Parameters<Parameters<typeof db.$transaction>[0]>[0];

export type DoorOptions = {
  /** The acting admin (or user) confirmed that no admin keeps password + authenticator. */
  lockoutConfirmed?: boolean;
  /** Sessions the change ends besides the Microsoft sessions whose method is gone. */
  endSessions?: { userId: string; all: true } | { userId: string; except: string };
  /** What the audit event is called, and what it says besides the methods. */
  audit: { action: string; result?: "failure"; targetType?: string; targetId?: string; detail?: Record<string, unknown> };
};

export type Refusal = "method_is_microsoft";

export type DoorOutcome<T> =
  | { kind: "done"; value: T; preview: Preview; sessionsEnded: number; appGrantsEnded: number; passwordsRemoved: number }
  | { kind: "confirm_lockout"; preview: Preview }
  | { kind: "refused"; code: Refusal; preview: Preview };

const TX = { timeout: 30_000, maxWait: 10_000 };

/** How many users move where: what an org-wide change's audit event records. */
function summary(preview: Preview) {
  return {
    toMicrosoft: preview.toMicrosoft.length,
    toPassword: preview.toPassword.length,
    toNone: preview.toNone.length,
    adminsOnPassword: preview.adminsOnPassword,
  };
}

/**
 * Applies `change` with `write` inside one transaction that first locks the org's row, so that two admins
 * acting at once cannot each remove "the other" last admin on password.
 */
export async function changeMethods<T>(
  actor: Actor,
  change: Change,
  options: DoorOptions,
  write: (tx: Tx, preview: Preview) => Promise<T>,
): Promise<DoorOutcome<T>> {
  const outcome = await db.$transaction(async (tx): Promise<DoorOutcome<T>> => {
    await tx.organization.update({ where: { id: actor.orgId }, data: { updatedAt: new Date() } });
    const preview = await whatIf(actor.orgId, change, tx);
    if (change.kind === "password" && change.hasPassword) {
      // SSO replaces the password, never beside it: a Microsoft user gets no password stored.
      if (preview.target?.to === "microsoft") return { kind: "refused", code: "method_is_microsoft", preview };
    }
    if (preview.locksOut && !options.lockoutConfirmed) return { kind: "confirm_lockout", preview };

    const value = await write(tx, preview);
    const toMicrosoft = preview.toMicrosoft.map((u) => u.id);
    let passwordsRemoved = toMicrosoft.length
      ? (
          await tx.user.updateMany({
            where: { id: { in: toMicrosoft }, orgId: actor.orgId, passwordHash: { not: null } },
            data: { passwordHash: null, passwordChangedAt: new Date() },
          })
        ).count
      : 0;
    // Users who cannot sign in now (deactivated, disabled) are in no preview, but the rule still gives them a
    // method: one that becomes Microsoft keeps no password for the day they are back.
    passwordsRemoved += await removeReplacedPasswords(tx, actor.orgId, {
      status: { not: "active" },
      OR: [{ source: "synced" }, { microsoftLink: { isNot: null } }],
    });
    const leftMicrosoft = preview.leftMicrosoft.map((u) => u.id);
    let sessionsEnded = leftMicrosoft.length ? (await tx.session.deleteMany({ where: { userId: { in: leftMicrosoft }, authMethod: "microsoft" } })).count : 0;
    // Apps signed in through the portal are sessions too (issue 14): the same rule ends them.
    let appGrantsEnded = leftMicrosoft.length ? (await endAppGrantsOf(leftMicrosoft, { signedInWith: "microsoft" }, tx)).grants : 0;
    const end = options.endSessions;
    if (end) {
      sessionsEnded += (await tx.session.deleteMany({ where: { userId: end.userId, ...("except" in end ? { id: { not: end.except } } : {}) } })).count;
      appGrantsEnded += (await endAppGrantsOf(end.userId, {}, tx)).grants;
    }
    return { kind: "done", value, preview, sessionsEnded, appGrantsEnded, passwordsRemoved };
  }, TX);
  if (outcome.kind !== "done") return outcome;

  const one = outcome.preview.target;
  await audit({
    action: options.audit.action,
    ...(options.audit.result ? { result: options.audit.result } : {}),
    orgId: actor.orgId,
    actorId: actor.userId,
    targetType: options.audit.targetType ?? ("userId" in change ? "user" : undefined),
    targetId: options.audit.targetId ?? ("userId" in change ? change.userId : undefined),
    ipAddress: actor.address ?? undefined,
    detail: {
      ...options.audit.detail,
      ...(one ? { methodBefore: one.from, methodAfter: one.to } : {}),
      ...summary(outcome.preview),
      sessionsEnded: outcome.sessionsEnded,
      ...(outcome.appGrantsEnded ? { appGrantsEnded: outcome.appGrantsEnded } : {}),
      passwordsRemoved: outcome.passwordsRemoved,
      ...(outcome.preview.locksOut ? { lockoutConfirmed: true } : {}),
    },
  });
  return outcome;
}

/**
 * The directory's own changes (Entra ID Sync) come through here in bulk, inside the sync's transaction. There
 * is no acting admin to ask, so there is no lock-out confirmation: the directory is the source of truth for who
 * still works there (docs/decisions/011). The rest of the rule holds: a deactivated user loses every session,
 * and a user the directory brings (back) into SSO keeps no password beside it.
 */
export async function applyDirectoryChanges(tx: Tx, orgId: string, changes: { deactivated: string[]; changed: string[] }) {
  const sessionsEnded = changes.deactivated.length ? (await tx.session.deleteMany({ where: { userId: { in: changes.deactivated } } })).count : 0;
  if (changes.deactivated.length) await endAppGrantsOf(changes.deactivated, {}, tx);
  const passwordsRemoved = changes.changed.length ? await removeReplacedPasswords(tx, orgId, { id: { in: changes.changed }, status: "active" }) : 0;
  return { sessionsEnded, passwordsRemoved };
}

/** Removes the password of every user of the org matching `where` whose method, by the rule, is Microsoft. */
async function removeReplacedPasswords(tx: Tx, orgId: string, where: Prisma.UserWhereInput): Promise<number> {
  const withPassword = await tx.user.findMany({ where: { ...where, orgId, passwordHash: { not: null } }, select: strategyUserSelect });
  if (!withPassword.length) return 0;
  const org = await loadOrgState(orgId, tx);
  const replaced = withPassword.filter((u) => strategyIn(org, u).method === "microsoft").map((u) => u.id);
  if (!replaced.length) return 0;
  return (await tx.user.updateMany({ where: { id: { in: replaced } }, data: { passwordHash: null, passwordChangedAt: new Date() } })).count;
}
