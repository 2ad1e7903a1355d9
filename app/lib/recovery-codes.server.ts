import { randomInt } from "node:crypto";
import { db } from "./db.server.ts";
import { sha256 } from "./crypto.server.ts";

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"; // no 0/o, 1/l/i

function newCode(): string {
  const chars = Array.from({ length: 10 }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

export function normalizeRecoveryCode(input: string): string {
  return input.toLowerCase().replace(/[\s-]/g, "");
}

/** Replaces the user's codes with ten new ones; the plain codes are returned once and never stored. */
export async function regenerateRecoveryCodes(userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  await db.$transaction([
    db.recoveryCode.deleteMany({ where: { userId } }),
    db.recoveryCode.createMany({ data: codes.map((code) => ({ userId, codeHash: sha256(normalizeRecoveryCode(code)) })) }),
  ]);
  return codes;
}

/** Uses up a recovery code; true only for the one request that used it. */
export async function useRecoveryCode(userId: string, input: string): Promise<boolean> {
  const normalized = normalizeRecoveryCode(input);
  if (!/^[a-z0-9]{10}$/.test(normalized)) return false;
  const { count } = await db.recoveryCode.updateMany({
    where: { userId, codeHash: sha256(normalized), usedAt: null },
    data: { usedAt: new Date() },
  });
  return count === 1;
}

export async function remainingRecoveryCodes(userId: string): Promise<number> {
  return db.recoveryCode.count({ where: { userId, usedAt: null } });
}
