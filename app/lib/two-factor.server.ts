// Setting up and replacing a user's authenticator app. A new secret belongs to the attempt — the session that
// showed it — and becomes the user's only when a code from it arrives: a half-done reset never locks the user
// out, and a secret someone else saw (with the user's password, before the user enrolled) is never reused.
import type { Session, User } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { checkTotp, newTotpSecret, openTotpSecret, sealTotpSecret, totpSetup } from "./totp.server.ts";
import { regenerateRecoveryCodes } from "./recovery-codes.server.ts";

type AttemptSession = Pick<Session, "id" | "userId" | "totpPendingSecret"> & { user: Pick<User, "email" | "phone" | "name"> };

const pendingOwner = (session: AttemptSession) => ({ kind: "pending", userId: session.userId, sessionId: session.id }) as const;

/** The secret and QR code this session shows; created on first view and kept for the session's life. */
export async function pendingTotpSetup(session: AttemptSession) {
  const shown = session.totpPendingSecret;
  let secret = shown ? openTotpSecret(shown, pendingOwner(session)) : null;
  if (secret === null) {
    // None yet, or one that does not open in this session (logged): a new one.
    secret = newTotpSecret();
    const sealed = sealTotpSecret(secret, pendingOwner(session));
    await db.session.update({ where: { id: session.id }, data: { totpPendingSecret: sealed } });
    session.totpPendingSecret = sealed;
  }
  return totpSetup(secret, session.user.email ?? session.user.phone ?? session.user.name);
}

/** Makes this session's pending secret the user's authenticator when `code` comes from it; returns new recovery codes. */
export async function confirmPendingTotp(session: AttemptSession, code: string): Promise<string[] | null> {
  const sealed = session.totpPendingSecret;
  if (!sealed) return null;
  const secret = openTotpSecret(sealed, pendingOwner(session));
  if (secret === null) return null;
  const step = await checkTotp(secret, code.replace(/\s/g, ""), null);
  if (step === null) return null;
  const taken = await db.$transaction(async (tx) => {
    // Only the session that still holds this secret may use it, once.
    const { count } = await tx.session.updateMany({ where: { id: session.id, totpPendingSecret: sealed }, data: { totpPendingSecret: null } });
    if (count !== 1) return false;
    // Sealed again for the user's row: the session's ciphertext opens only in that session.
    const totpSecret = sealTotpSecret(secret, { kind: "user", userId: session.userId });
    await tx.user.update({ where: { id: session.userId }, data: { totpSecret, totpEnrolledAt: new Date(), totpLastStep: step } });
    return true;
  });
  session.totpPendingSecret = null;
  return taken ? regenerateRecoveryCodes(session.userId) : null;
}
