// Forgotten passwords: a single-use link valid 30 minutes. The reset sets a new password only:
// the next sign-in still asks for the TOTP code.
import { db } from "./db.server.ts";
import { env } from "./env.server.ts";
import { audit } from "./audit.server.ts";
import { findUserByIdentifier } from "./signin.server.ts";
import { issueToken, consumeToken, revokeTokens } from "./tokens.server.ts";
import { hashPassword } from "./passwords.server.ts";
import { accountKey, clearFailures } from "./throttle.server.ts";
import { queueEmail } from "./mail/outbox.server.ts";

import { RESET_MINUTES } from "./password-rules.ts";
export { RESET_MINUTES };
const RESEND_AFTER_MS = 60_000;

/** Sends a reset link when the identifier names an active account with an email; silent otherwise. */
export async function requestPasswordReset(identifier: string, address: string): Promise<void> {
  const user = await findUserByIdentifier(identifier);
  if (!user || user.status !== "active" || !user.email) return;
  // One message a minute per account keeps the form from being used to flood a mailbox.
  const recent = await db.oneTimeToken.findFirst({
    where: { type: "password_reset", target: user.id, createdAt: { gt: new Date(Date.now() - RESEND_AFTER_MS) } },
  });
  if (recent) return;
  const token = await issueToken("password_reset", user.id, RESET_MINUTES);
  await queueEmail(user.email, "password-reset", {
    name: user.name,
    resetUrl: `${env().APP_ORIGIN}/reset-password?token=${token}`,
    expiresMinutes: RESET_MINUTES,
  });
  await audit({ action: "password.reset.requested", orgId: user.orgId, actorId: user.id, ipAddress: address });
}

/** Sets the new password when the token is still good; ends every session of the user. */
export async function resetPassword(token: string, password: string, address: string): Promise<boolean> {
  const found = (await consumeToken("password_reset", token)) ?? (await consumeToken("set_password", token));
  if (!found) return false;
  const user = await db.user.findUnique({ where: { id: found.target } });
  if (!user || user.status !== "active") return false;
  await db.user.update({
    where: { id: user.id },
    data: { passwordHash: await hashPassword(password), passwordChangedAt: new Date(), passwordLockedAt: null },
  });
  await clearFailures(accountKey(user.id));
  await revokeTokens("password_reset", user.id);
  await revokeTokens("set_password", user.id);
  await db.session.deleteMany({ where: { userId: user.id } });
  await audit({ action: "password.reset", orgId: user.orgId, actorId: user.id, ipAddress: address });
  return true;
}
