import argon2 from "argon2";

// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
export const hashOptions = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export { PASSWORD_MIN, PASSWORD_MAX } from "../lib/password-rules.ts";

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, hashOptions);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

export function passwordNeedsRehash(hash: string): boolean {
  return argon2.needsRehash(hash, hashOptions);
}

// Verified against when the identifier is unknown, so that both cases take the same time.
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  return (dummyHash ??= hashPassword("not-a-real-password-" + Math.random()));
}
