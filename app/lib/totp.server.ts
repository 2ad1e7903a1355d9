import { generateSecret, generateURI, verify } from "otplib";
import QRCode from "qrcode";
import { decryptSecret, encryptSecret } from "./crypto.server.ts";

export const TOTP_ISSUER = "Sign-in portal";

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
  const result = await verify({
    secret,
    token: code,
    epochTolerance: 30, // one 30 s step either side
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
