import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { env } from "./env.server.ts";

export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** A random token for URLs and cookies: 256 bits, base64url. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// AES-256-GCM for secrets at rest (TOTP), base64url parts joined by dots:
//   v1.<iv>.<tag>.<ciphertext>  no associated data: any row could hold any user's secret. Only read to re-seal it.
//   v2.<iv>.<tag>.<ciphertext>  bound: the associated data names whose secret it is, so it opens in its own row only.
// The version is part of the associated data too: a v2 ciphertext relabelled as anything else never opens.
const CURRENT = "v2";

/** Why a sealed secret did not open; each reason becomes one sentence for the operator (totp.server.ts). */
export type SecretFailure = "unknown_format" | "unbound" | "does_not_open";

export class SecretError extends Error {
  override name = "SecretError";
  constructor(readonly reason: SecretFailure) {
    super(`The sealed secret did not open (${reason}).`);
  }
}

/** Seals `plain` for `context` (whose secret it is); `decryptSecret` with another context refuses it. */
export function encryptSecret(plain: string, context: string, keyHex = env().TOTP_ENCRYPTION_KEY): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", Buffer.from(keyHex, "hex"), iv);
  cipher.setAAD(associatedData(CURRENT, context));
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return [CURRENT, iv, cipher.getAuthTag(), body].map((p) => (typeof p === "string" ? p : p.toString("base64url"))).join(".");
}

/** Opens a v2 secret sealed for `context`; throws SecretError otherwise (v1 included: see `decryptUnboundSecret`). */
export function decryptSecret(sealed: string, context: string, keyHex = env().TOTP_ENCRYPTION_KEY): string {
  const parts = partsOf(sealed);
  if (parts.version === "v1") throw new SecretError("unbound");
  if (parts.version !== CURRENT) throw new SecretError("unknown_format");
  return open(parts, keyHex, associatedData(CURRENT, context));
}

/** Opens a v1 (unbound) secret: only the one-off re-seal of old rows does this (app/lib/totp-reseal.server.ts). */
export function decryptUnboundSecret(sealed: string, keyHex = env().TOTP_ENCRYPTION_KEY): string {
  const parts = partsOf(sealed);
  if (parts.version !== "v1") throw new SecretError(parts.version === CURRENT ? "does_not_open" : "unknown_format");
  return open(parts, keyHex, null);
}

const associatedData = (version: string, context: string) => Buffer.from(`${version}\n${context}`, "utf8");

type Parts = { version: string; iv: Buffer; tag: Buffer; body: Buffer };

function partsOf(sealed: string): Parts {
  const pieces = sealed.split(".");
  const [version = "", iv, tag, body] = pieces;
  if (pieces.length !== 4 || !iv || !tag || !body) throw new SecretError("unknown_format");
  return { version, iv: Buffer.from(iv, "base64url"), tag: Buffer.from(tag, "base64url"), body: Buffer.from(body, "base64url") };
}

function open(parts: Parts, keyHex: string, aad: Buffer | null): string {
  if (parts.iv.length !== 12 || parts.tag.length !== 16) throw new SecretError("unknown_format");
  try {
    const decipher = createDecipheriv("aes-256-gcm", Buffer.from(keyHex, "hex"), parts.iv, { authTagLength: 16 });
    if (aad) decipher.setAAD(aad);
    decipher.setAuthTag(parts.tag);
    return Buffer.concat([decipher.update(parts.body), decipher.final()]).toString("utf8");
  } catch {
    // GCM's tag check: another context (row), another key, or altered bytes; which one cannot be told apart.
    throw new SecretError("does_not_open");
  }
}
