import { generateSecret, generateURI, verify } from "otplib";
import QRCode from "qrcode";
import { log } from "./log.server.ts";
import { decryptSecret, encryptSecret, SecretError, type SecretFailure } from "./crypto.server.ts";

export const TOTP_ISSUER = "Sign-in portal";
const STEP_SECONDS = 30;
/** One 30 s step either side of now. */
const TOLERANCE_SECONDS = 30;

export function newTotpSecret(): string {
  return generateSecret();
}

/**
 * Whose authenticator secret a ciphertext is (issue 13, finding 12; docs/decisions/018): the user's own
 * (User.totpSecret), or one shown in one session during enrolment or replacement (Session.totpPendingSecret).
 * It is the ciphertext's associated data, so a secret copied into another user's row, another session, or
 * from a session into the user's row does not open.
 */
export type TotpSecretOwner = { kind: "user"; userId: string } | { kind: "pending"; userId: string; sessionId: string };

const contextOf = (owner: TotpSecretOwner) => (owner.kind === "user" ? `totp\n${owner.userId}` : `totp-pending\n${owner.userId}\n${owner.sessionId}`);

/** Rows the migration `totp_secret_binding` tagged: v1 ciphertexts waiting for the re-seal (app/lib/totp-reseal.server.ts). */
export const RESEAL_TAG = "reseal.";

export function sealTotpSecret(secret: string, owner: TotpSecretOwner): string {
  return encryptSecret(secret, contextOf(owner));
}

/**
 * The secret, or null when the ciphertext does not open for this owner. That is never a code check that passes
 * nor a 500: the caller treats it as a wrong code (or shows a new secret), and the operator gets one sentence.
 */
export function openTotpSecret(sealed: string, owner: TotpSecretOwner): string | null {
  try {
    if (sealed.startsWith(RESEAL_TAG)) throw new SecretError("unbound");
    return decryptSecret(sealed, contextOf(owner));
  } catch (error) {
    if (!(error instanceof SecretError)) throw error;
    log.error(unreadableSentence(owner, error.reason));
    return null;
  }
}

const REASONS: Record<SecretFailure, string> = {
  unbound:
    "it is in the old format without its owner (v1), which is no longer read: `npm run db:deploy` (or the next start) re-seals the old rows once; a v1 value written after that was copied in from elsewhere",
  does_not_open: "it was sealed for another user or session, altered, or sealed with another TOTP_ENCRYPTION_KEY",
  unknown_format: "its format is unknown (an altered or truncated value)",
};

function unreadableSentence(owner: TotpSecretOwner, reason: SecretFailure): string {
  const whose =
    owner.kind === "user" ? `The authenticator secret of user ${owner.userId}` : `The pending authenticator secret of a session of user ${owner.userId}`;
  const then =
    owner.kind === "user"
      ? "Codes are refused; the user can sign in with a recovery code and set up the authenticator app again."
      : "A new secret is shown instead.";
  return `${whose} does not open: ${REASONS[reason]}. ${then}`;
}

/** The time step of an accepted code, or null. `afterStep` is the last accepted step: never accepted twice. */
export async function checkTotp(secret: string, code: string, afterStep: number | null): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  // A last step at or past the newest step the window accepts (the clock went back, a restored backup) leaves no
  // code that could be newer: not valid, rather than otplib's range error (issue 13, finding 11).
  const newestStep = Math.floor((Date.now() / 1000 + TOLERANCE_SECONDS) / STEP_SECONDS);
  if (afterStep !== null && afterStep >= newestStep) return null;
  const result = await verify({
    secret,
    token: code,
    epochTolerance: TOLERANCE_SECONDS,
    ...(afterStep === null ? {} : { afterTimeStep: afterStep }),
  });
  return result.valid ? (result as { timeStep: number }).timeStep : null;
}

export async function totpSetup(secret: string, account: string) {
  const uri = generateURI({ secret, issuer: TOTP_ISSUER, label: account });
  const qrSvg = await QRCode.toString(uri, { type: "svg", margin: 1, errorCorrectionLevel: "M" });
  // Grouped in fours for people typing it in by hand.
  return { uri, qrSvg, secretGroups: secret.match(/.{1,4}/g)?.join(" ") ?? secret };
}
