import { generateSecret, generateURI, verify } from "otplib";
import QRCode from "qrcode";
import { decryptSecret, encryptSecret } from "./crypto.server.ts";

export const TOTP_ISSUER = "Sign-in portal";
const STEP_SECONDS = 30;
/** One 30 s step either side of now. */
const TOLERANCE_SECONDS = 30;

export function newTotpSecret(): string {
  return generateSecret();
}

export function sealTotpSecret(secret: string): string {
  return encryptSecret(secret);
}

export function openTotpSecret(sealed: string): string {
  return decryptSecret(sealed);
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
