// The password + TOTP sign-in, step by step. Unknown identifiers walk the same path as known ones:
// same page, same error, same time, same throttling.
import type { User } from "~/generated/prisma/client.ts";
import { db } from "../db.server.ts";
import { sha256 } from "../crypto.server.ts";
import { parseIdentifier } from "../identifier.ts";
import { dummyPasswordHash, hashPassword, passwordNeedsRehash, verifyPassword } from "../passwords.server.ts";
import { ACCOUNT_LOCK_AFTER, attemptKeys, countAttempt, settleAttempt, type AttemptKeys, type Counted, type Refused } from "../throttle.server.ts";
import { checkTotp, openTotpSecret } from "../totp.server.ts";
import { useRecoveryCode } from "../recovery-codes.server.ts";
import { audit } from "../audit.server.ts";
import { signInStrategyFor } from "./methods.server.ts";
import type { LiveSession } from "../session.server.ts";
import { confirmPendingTotp } from "../two-factor.server.ts";
import { duration } from "../wording.ts";
import { metrics, type SignInMethod } from "../metrics.server.ts";

export type StepFailure = { kind: "invalid" } | { kind: "blocked"; until: Date } | { kind: "locked" };

export async function findUserByIdentifier(raw: string): Promise<User | null> {
  const id = parseIdentifier(raw);
  if (!id) return null;
  return db.user.findUnique({ where: id.kind === "email" ? { email: id.value } : { phone: id.value } });
}

function throttleKeys(user: User | null, identifier: string, address: string): AttemptKeys {
  return attemptKeys(user ? user.id : `unknown:${sha256(identifier.trim().toLowerCase())}`, address);
}

// Attempts the throttle refused unchecked, told apart from failures that set a wait (both answer "blocked"): the
// metrics count the first as blocked, the second as a failure.
const refusals = new WeakSet<Refused>();

function refused(attempt: Refused): Refused {
  refusals.add(attempt);
  metrics.throttleBlocks.inc({ reason: attempt.kind === "locked" ? "locked" : "wait" });
  return attempt;
}

/** Counts a sign-in step that did not succeed (successes are counted where every sign-in completes). */
function countFailedStep(method: SignInMethod, result: StepFailure | { kind: "ok" }) {
  if (result.kind === "ok") return;
  const outcome = result.kind === "locked" ? "locked" : result.kind === "blocked" && refusals.has(result) ? "blocked" : "failure";
  metrics.signIns.inc({ method, outcome });
}

/** A counted attempt that failed: its count and the next wait were written when it was counted. */
async function fail(attempt: Counted, user: User | null, address: string, action: string): Promise<StepFailure> {
  const failures = attempt.accountAttempts;
  if (user) await audit({ action, orgId: user.orgId, actorId: user.id, result: "failure", ipAddress: address, detail: { failures } });
  if (failures >= ACCOUNT_LOCK_AFTER) {
    if (user && !user.passwordLockedAt) {
      await db.user.update({ where: { id: user.id }, data: { passwordLockedAt: new Date() } });
      await audit({ action: "signin.password.locked", orgId: user.orgId, actorId: user.id, result: "failure", ipAddress: address });
    }
    return { kind: "locked" };
  }
  return attempt.nextAllowed ? { kind: "blocked", until: attempt.nextAllowed } : { kind: "invalid" };
}

export type PasswordResult = StepFailure | { kind: "ok"; user: User; next: "pending_totp" | "pending_enrolment" };

export async function checkPasswordStep(identifier: string, password: string, address: string): Promise<PasswordResult> {
  const user = await findUserByIdentifier(identifier);
  const result = await passwordOf(user, throttleKeys(user, identifier, address), password, address);
  countFailedStep("password", result);
  return result;
}

/** The password of a signed-in user (step-up, change password): the same checks and throttling as a sign-in. */
export function checkPasswordOf(user: User, password: string, address: string): Promise<PasswordResult> {
  return passwordOf(user, attemptKeys(user.id, address), password, address);
}

async function passwordOf(user: User | null, keys: AttemptKeys, password: string, address: string): Promise<PasswordResult> {
  if (user?.passwordLockedAt) return { kind: "locked" };
  const attempt = await countAttempt(keys);
  if (attempt.kind !== "counted") return refused(attempt);

  const usable = user && user.status === "active" && user.passwordHash ? user : null;
  const valid = await verifyPassword(usable?.passwordHash ?? (await dummyPasswordHash()), password);
  if (!usable || !valid) return fail(attempt, user, address, "signin.password.failed");
  // SSO and password are never both accepted: a user whose method is Microsoft has no password sign-in.
  if ((await signInStrategyFor(usable)).method !== "password") return fail(attempt, user, address, "signin.password.not_allowed");
  await settleAttempt(attempt, false);

  if (passwordNeedsRehash(usable.passwordHash!)) {
    await db.user.update({ where: { id: usable.id }, data: { passwordHash: await hashPassword(password) } });
  }
  return { kind: "ok", user: usable, next: usable.totpEnrolledAt ? "pending_totp" : "pending_enrolment" };
}

export type CodeResult = StepFailure | { kind: "ok"; method: "password_totp" | "password_recovery_code" };

/** Checks a TOTP code, or a recovery code in its place, for a user half-way through signing in. */
export async function checkSecondFactor(user: User, code: string, address: string): Promise<CodeResult> {
  if (!user.totpSecret || !user.totpEnrolledAt) return { kind: "invalid" };
  const attempt = await countAttempt(attemptKeys(user.id, address));
  if (attempt.kind !== "counted") return refused(attempt);

  const compact = code.replace(/\s/g, "");
  if (/^\d{6}$/.test(compact)) {
    // A secret that does not open for this user (copied from another row, altered) is a wrong code, logged.
    const secret = openTotpSecret(user.totpSecret, { kind: "user", userId: user.id });
    const step = secret === null ? null : await checkTotp(secret, compact, user.totpLastStep);
    // The conditional update makes a code single-use even when two requests race.
    if (step !== null) {
      const { count } = await db.user.updateMany({
        where: { id: user.id, OR: [{ totpLastStep: null }, { totpLastStep: { lt: step } }] },
        data: { totpLastStep: step },
      });
      if (count === 1) {
        await settleAttempt(attempt, true);
        return { kind: "ok", method: "password_totp" };
      }
    }
  } else if (await useRecoveryCode(user.id, compact)) {
    await settleAttempt(attempt, true);
    return { kind: "ok", method: "password_recovery_code" };
  }
  return fail(attempt, user, address, "signin.code.failed");
}

/** The code step of a sign-in: checkSecondFactor, counted as a sign-in (step-ups and factor changes are not). */
export async function checkSignInCode(user: User, code: string, address: string): Promise<CodeResult> {
  const result = await checkSecondFactor(user, code, address);
  countFailedStep(/^\d{6}$/.test(code.replace(/\s/g, "")) ? "totp" : "recovery", result);
  return result;
}

export function describeFailure(failure: StepFailure, what: "password" | "code"): string {
  if (failure.kind === "locked") {
    return "This account's password is locked after too many failed attempts. Reset your password to sign in again.";
  }
  if (failure.kind === "blocked") {
    return `Too many failed attempts. You can try again at ${failure.until.toISOString().slice(11, 19)} UTC (in ${waitText(failure.until)}).`;
  }
  return what === "password"
    ? "That identifier and password don't match. Check them and try again."
    : "That code isn't valid. Enter the current code from your authenticator app, or a recovery code.";
}

function waitText(until: Date): string {
  return duration(Math.max(1, (until.getTime() - Date.now()) / 1000), "roundUp");
}

export type EnrolmentResult = StepFailure | { kind: "ok"; codes: string[] };

/** The first code from a new authenticator app, in the enrolment attempt's session; failures count like any code. */
export async function confirmEnrolment(session: LiveSession, code: string, address: string): Promise<EnrolmentResult> {
  const result = await enrolmentCode(session, code, address);
  countFailedStep("totp", result);
  return result;
}

async function enrolmentCode(session: LiveSession, code: string, address: string): Promise<EnrolmentResult> {
  const attempt = await countAttempt(attemptKeys(session.userId, address));
  if (attempt.kind !== "counted") return refused(attempt);
  const codes = await confirmPendingTotp(session, code);
  if (!codes) return fail(attempt, session.user, address, "totp.enrol.failed");
  await settleAttempt(attempt, true);
  return { kind: "ok", codes };
}
