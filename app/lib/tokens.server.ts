// One table for every one-time token: stored as a hash, short-lived, single use.
import { db } from "./db.server.ts";
import { randomToken, sha256 } from "./crypto.server.ts";

/** password_reset_microsoft: no link, only the one-a-minute limit of "forgot password" for a Microsoft user. */
export type TokenType = "password_reset" | "password_reset_microsoft" | "set_password" | "invitation" | "oauth_state" | "consent_state";

export async function issueToken(type: TokenType, target: string, minutes: number, data?: unknown): Promise<string> {
  const token = randomToken();
  await db.oneTimeToken.create({
    data: {
      type,
      target,
      tokenHash: sha256(token),
      data: data === undefined ? null : JSON.stringify(data),
      expiresAt: new Date(Date.now() + minutes * 60_000),
    },
  });
  return token;
}

/**
 * Issues a token and keeps only the newest `keep` tokens of this type and target (used, expired or live): a key
 * that is asked again and again holds a bounded number of rows. Concurrent issues may briefly leave a few more.
 */
export async function issueTokenKeepingNewest(type: TokenType, target: string, minutes: number, data: unknown, keep: number): Promise<string> {
  const token = randomToken();
  const { id } = await db.oneTimeToken.create({
    data: { type, target, tokenHash: sha256(token), data: JSON.stringify(data), expiresAt: new Date(Date.now() + minutes * 60_000) },
    select: { id: true },
  });
  const older = await db.oneTimeToken.findMany({
    where: { type, target, id: { not: id } },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    skip: keep - 1,
    select: { id: true },
  });
  if (older.length) await db.oneTimeToken.deleteMany({ where: { id: { in: older.map((r) => r.id) } } });
  return token;
}

type Found = { id: string; target: string; data: unknown };

/** The token if it exists, has this type, is unused and unexpired; does not use it up. */
export async function peekToken(type: TokenType, token: unknown): Promise<Found | null> {
  if (typeof token !== "string" || !/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
  const row = await db.oneTimeToken.findUnique({ where: { tokenHash: sha256(token) } });
  if (!row || row.type !== type || row.usedAt || row.expiresAt <= new Date()) return null;
  return { id: row.id, target: row.target, data: row.data ? JSON.parse(row.data) : null };
}

/** The type of a token whatever its state (used, expired or live), for pages that explain a dead link; null when unknown. */
export async function tokenTypeOf(token: unknown): Promise<TokenType | null> {
  if (typeof token !== "string" || !/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
  const row = await db.oneTimeToken.findUnique({ where: { tokenHash: sha256(token) }, select: { type: true } });
  return (row?.type as TokenType | undefined) ?? null;
}

/** Uses the token up; only one caller can win even when two requests race. */
export async function consumeToken(type: TokenType, token: unknown): Promise<Found | null> {
  const found = await peekToken(type, token);
  if (!found) return null;
  const { count } = await db.oneTimeToken.updateMany({ where: { id: found.id, usedAt: null }, data: { usedAt: new Date() } });
  return count === 1 ? found : null;
}

export async function revokeTokens(type: TokenType, target: string) {
  await db.oneTimeToken.updateMany({ where: { type, target, usedAt: null }, data: { usedAt: new Date() } });
}

/** Uses up a token known by its row (a flow that kept the row's id, never the token itself); null when already used or expired. */
export async function consumeTokenById(type: TokenType, id: unknown): Promise<{ id: string; target: string } | null> {
  if (typeof id !== "string" || id.length > 64) return null;
  const row = await db.oneTimeToken.findUnique({ where: { id } });
  if (!row || row.type !== type || row.usedAt || row.expiresAt <= new Date()) return null;
  const { count } = await db.oneTimeToken.updateMany({ where: { id, usedAt: null }, data: { usedAt: new Date() } });
  return count === 1 ? { id, target: row.target } : null;
}
