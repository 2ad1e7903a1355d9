// Changing one's own factors from My Profile → Settings: password, authenticator app, recovery codes.
// Each page is behind `requireRecentSignIn` (step-up.server.ts); each change is checked here, and a password
// goes through the one door so a user whose method is Microsoft never gets one.
import { audit } from "../audit.server.ts";
import { hashPassword } from "../passwords.server.ts";
import { regenerateRecoveryCodes } from "../recovery-codes.server.ts";
import type { LiveSession } from "../session.server.ts";
import { confirmPendingTotp } from "../two-factor.server.ts";
import { actorOf, changeMethods } from "./change.server.ts";
import { checkPasswordOf, checkSecondFactor, type StepFailure } from "./steps.server.ts";

export type PasswordChange = StepFailure | { kind: "microsoft" } | { kind: "ok"; otherSessionsEnded: number };

/** The current password again, then the new one through the door; the user's other sessions end. */
export async function changeOwnPassword(session: LiveSession, current: string, next: string, address: string): Promise<PasswordChange> {
  const { user } = session;
  const checked = await checkPasswordOf(user, current, address);
  if (checked.kind !== "ok") return checked;
  const passwordHash = await hashPassword(next);
  const outcome = await changeMethods(
    actorOf(session, address),
    { kind: "password", userId: user.id, hasPassword: true },
    { endSessions: { userId: user.id, except: session.id }, audit: { action: "password.changed" } },
    (tx) => tx.user.update({ where: { id: user.id }, data: { passwordHash, passwordChangedAt: new Date() } }),
  );
  if (outcome.kind === "refused") return { kind: "microsoft" };
  if (outcome.kind !== "done") return { kind: "invalid" };
  return { kind: "ok", otherSessionsEnded: outcome.sessionsEnded };
}

export type FactorChange = { kind: "current_invalid"; failure: StepFailure } | { kind: "new_invalid" } | { kind: "ok"; codes: string[] };

/** A code from the current app (or a recovery code), then the first code of the new entry shown in this session. */
export async function replaceAuthenticator(session: LiveSession, currentCode: string, newCode: string, address: string): Promise<FactorChange> {
  const current = await checkSecondFactor(session.user, currentCode, address);
  if (current.kind !== "ok") return { kind: "current_invalid", failure: current };
  const codes = await confirmPendingTotp(session, newCode);
  if (!codes) return { kind: "new_invalid" };
  await audit({ action: "totp.reset", orgId: session.user.orgId, actorId: session.userId, ipAddress: address });
  return { kind: "ok", codes };
}

/** A code from the app, then a new set of recovery codes replacing the old ones. */
export async function newRecoveryCodes(session: LiveSession, code: string, address: string): Promise<FactorChange> {
  const check = await checkSecondFactor(session.user, code, address);
  if (check.kind !== "ok") return { kind: "current_invalid", failure: check };
  const codes = await regenerateRecoveryCodes(session.userId);
  await audit({ action: "recovery_codes.regenerated", orgId: session.user.orgId, actorId: session.userId, ipAddress: address });
  return { kind: "ok", codes };
}
