// Setting up and replacing a user's authenticator app. A new secret waits in totpPendingSecret
// until a code from it arrives, so a half-done reset never locks the user out.
import type { User } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { checkTotp, newTotpSecret, openTotpSecret, sealTotpSecret, totpSetup } from "./totp.server.ts";
import { regenerateRecoveryCodes } from "./recovery-codes.server.ts";

export async function pendingTotpSetup(user: User) {
  let sealed = user.totpPendingSecret;
  if (!sealed) {
    sealed = sealTotpSecret(newTotpSecret());
    await db.user.update({ where: { id: user.id }, data: { totpPendingSecret: sealed } });
  }
  return totpSetup(openTotpSecret(sealed), user.email ?? user.phone ?? user.name);
}

/** Makes the pending secret the user's authenticator when `code` comes from it; returns new recovery codes. */
export async function confirmPendingTotp(user: User, code: string): Promise<string[] | null> {
  if (!user.totpPendingSecret) return null;
  const step = await checkTotp(openTotpSecret(user.totpPendingSecret), code.replace(/\s/g, ""), null);
  if (step === null) return null;
  const { count } = await db.user.updateMany({
    where: { id: user.id, totpPendingSecret: user.totpPendingSecret },
    data: { totpSecret: user.totpPendingSecret, totpPendingSecret: null, totpEnrolledAt: new Date(), totpLastStep: step },
  });
  return count === 1 ? regenerateRecoveryCodes(user.id) : null;
}
