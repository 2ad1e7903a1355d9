// Forgotten passwords: a single-use link valid 30 minutes. The reset sets a new password only:
// the next sign-in still asks for the TOTP code. The form only records the request; the mail worker does the
// per-account work after the answer, so the answer takes as long for an unknown identifier as for an account.
import { db } from "./db.server.ts";
import { env } from "./env.server.ts";
import { log } from "./log.server.ts";
import { audit } from "./audit.server.ts";
import { findUserByIdentifier } from "./signin/steps.server.ts";
import { signInStrategyFor } from "./signin/methods.server.ts";
import { changeMethods } from "./signin/change.server.ts";
import { issueToken, consumeToken, revokeTokens } from "./tokens.server.ts";
import { hashPassword } from "./passwords.server.ts";
import { forgetAccount } from "./throttle.server.ts";
import { queueEmail } from "./mail/outbox.server.ts";
import { kickMailWorker, retryDelayMs } from "./mail/queue.server.ts";
import { isUniqueViolation } from "./db-errors.server.ts";
import { parseIdentifier } from "./identifier.ts";
import { afterAnswer } from "./after-answer.server.ts";

import { RESET_MINUTES } from "./password-rules.ts";
export { RESET_MINUTES };
const RESEND_AFTER_MS = 60_000;

const BATCH = 50;
// Handling one request takes milliseconds (no network): a claim older than this belongs to a crashed process.
const LEASE_MS = 60_000;

/**
 * What the forgot-password form does: one row keyed by the normalized identifier, the same statements whoever it
 * names. The row is written before the answer, so a restart loses no request; repeats while it waits add nothing.
 * It is held (not due) until the answer has been written: a worker run already under way for an earlier request
 * would otherwise do this account's work during this answer (bench/forgot.ts measured known 1.9× unknown).
 */
export async function recordPasswordResetRequest(identifier: string, address: string): Promise<void> {
  const parsed = parseIdentifier(identifier);
  if (!parsed) throw new Error("A password reset can only be requested for an email address or a mobile number.");
  // A process that stops before the release leaves the row due at this time: handled a lease later, not lost.
  const heldUntil = new Date(Date.now() + LEASE_MS);
  try {
    await db.passwordResetRequest.create({ data: { identifier: parsed.value, ipAddress: address, nextAttemptAt: heldUntil } });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
  }
  await afterAnswer(async () => {
    // Only the row this request held (a repeat's insert failed, and a claimed row has another time): due now.
    await db.passwordResetRequest.updateMany({ where: { identifier: parsed.value, nextAttemptAt: heldUntil }, data: { nextAttemptAt: new Date() } });
    void kickMailWorker();
  });
}

/** The mail worker's first step: each due request becomes the mail the sign-in rule says (or none), then goes. */
export async function handlePasswordResetRequests(now = new Date()): Promise<{ handled: number; failed: number }> {
  const due = await db.passwordResetRequest.findMany({ where: { nextAttemptAt: { lte: now } }, orderBy: { createdAt: "asc" }, take: BATCH });
  let handled = 0;
  let failed = 0;
  for (const request of due) {
    const claim = await db.passwordResetRequest.updateMany({
      where: { id: request.id, nextAttemptAt: request.nextAttemptAt },
      data: { nextAttemptAt: new Date(now.getTime() + LEASE_MS) },
    });
    if (claim.count !== 1) continue;
    try {
      // A crash between the mail and this delete handles the request again after the lease: at worst a second link.
      await requestPasswordReset(request.identifier, request.ipAddress);
      await db.passwordResetRequest.delete({ where: { id: request.id } });
      handled++;
    } catch (error) {
      const attempts = request.attempts + 1;
      const message = error instanceof Error ? error.message : String(error);
      await db.passwordResetRequest.update({ where: { id: request.id }, data: { attempts, nextAttemptAt: new Date(now.getTime() + retryDelayMs(attempts)) } });
      log.warn({ requestId: request.id, attempts, reason: message }, "A forgot-password request was not handled; it is tried again later");
      failed++;
    }
  }
  return { handled, failed };
}

/** Sends a reset link when the identifier names an active account with an email; silent otherwise. */
export async function requestPasswordReset(identifier: string, address: string): Promise<void> {
  const user = await findUserByIdentifier(identifier);
  if (!user || user.status !== "active" || !user.email) return;
  // One message a minute per account keeps the form from being used to flood a mailbox.
  const recent = await db.oneTimeToken.findFirst({
    where: { type: { in: ["password_reset", "password_reset_microsoft"] }, target: user.id, createdAt: { gt: new Date(Date.now() - RESEND_AFTER_MS) } },
  });
  if (recent) return;
  if ((await signInStrategyFor(user)).method === "microsoft") {
    // SSO replaces the password: nothing to reset, and no link that would store one. Same page, same silence.
    await issueToken("password_reset_microsoft", user.id, 1);
    await queueEmail(user.email, "microsoft-sign-in", { name: user.name, signInUrl: `${env().APP_ORIGIN}/login` });
    await audit({
      action: "password.reset.requested",
      orgId: user.orgId,
      actorId: user.id,
      ipAddress: address,
      detail: { method: "microsoft", sent: "microsoft-sign-in" },
    });
    return;
  }
  const token = await issueToken("password_reset", user.id, RESET_MINUTES);
  await queueEmail(user.email, "password-reset", {
    name: user.name,
    resetUrl: `${env().APP_ORIGIN}/reset-password?token=${token}`,
    expiresMinutes: RESET_MINUTES,
  });
  await audit({ action: "password.reset.requested", orgId: user.orgId, actorId: user.id, ipAddress: address });
}

export type ResetOutcome = "done" | "invalid" | "microsoft";

/**
 * Sets the new password when the token is still good, through the method-change path: never for a user whose
 * method is Microsoft; every session of the user ends.
 */
export async function resetPassword(token: string, password: string, address: string): Promise<ResetOutcome> {
  const passwordHash = await hashPassword(password);
  const found = (await consumeToken("password_reset", token)) ?? (await consumeToken("set_password", token));
  if (!found) return "invalid";
  const user = await db.user.findUnique({ where: { id: found.target } });
  if (!user || user.status !== "active") return "invalid";
  const outcome = await changeMethods(
    { userId: user.id, orgId: user.orgId, address },
    { kind: "password", userId: user.id, hasPassword: true },
    // Setting a password can only add an admin on password: no lock-out to confirm.
    { endSessions: { userId: user.id, all: true }, audit: { action: "password.reset" } },
    (tx) => tx.user.update({ where: { id: user.id }, data: { passwordHash, passwordChangedAt: new Date(), passwordLockedAt: null } }),
  );
  if (outcome.kind === "refused") return "microsoft";
  await forgetAccount(user.id);
  await revokeTokens("password_reset", user.id);
  await revokeTokens("set_password", user.id);
  return "done";
}
