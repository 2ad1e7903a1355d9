// The one-off re-seal of authenticator secrets stored before they were bound to their owner (issue 13, finding
// 12; docs/decisions/018-totp-secret-binding.md). SQL cannot run AES, so the migration `totp_secret_binding`
// only tags each v1 value ("reseal.v1.…"); this seals every tagged value again, bound to the row it is in.
// `npm run db:deploy` runs it after the schema migrations, and every server start runs it too (a deploy done
// with Prisma's own CLI runs no app code). An untagged v1 value is never re-sealed nor read: one copied into a
// row after the migration (from an old backup, from another user) stays refused.
import { db } from "./db.server.ts";
import { decryptUnboundSecret, SecretError } from "./crypto.server.ts";
import { RESEAL_TAG, sealTotpSecret, type TotpSecretOwner } from "./totp.server.ts";

export type ResealResult = { resealed: number; unreadable: string[] };

const BATCH = 500;

export async function resealTotpSecrets(): Promise<ResealResult> {
  const result: ResealResult = { resealed: 0, unreadable: [] };
  const tagged = { startsWith: RESEAL_TAG };

  for (let after = ""; ;) {
    const users = await db.user.findMany({
      where: { totpSecret: tagged, id: { gt: after } },
      select: { id: true, totpSecret: true },
      orderBy: { id: "asc" },
      take: BATCH,
    });
    for (const user of users) {
      const sealed = reseal(user.totpSecret!, { kind: "user", userId: user.id }, result);
      // Conditional: a value changed meanwhile (a new enrolment, another instance's re-seal) is left alone.
      if (sealed) result.resealed += (await db.user.updateMany({ where: { id: user.id, totpSecret: user.totpSecret }, data: { totpSecret: sealed } })).count;
    }
    if (users.length < BATCH) break;
    after = users.at(-1)!.id;
  }

  for (let after = ""; ;) {
    const sessions = await db.session.findMany({
      where: { totpPendingSecret: tagged, id: { gt: after } },
      select: { id: true, userId: true, totpPendingSecret: true },
      orderBy: { id: "asc" },
      take: BATCH,
    });
    for (const session of sessions) {
      const owner: TotpSecretOwner = { kind: "pending", userId: session.userId, sessionId: session.id };
      const sealed = reseal(session.totpPendingSecret!, owner, result);
      const where = { id: session.id, totpPendingSecret: session.totpPendingSecret };
      if (sealed) result.resealed += (await db.session.updateMany({ where, data: { totpPendingSecret: sealed } })).count;
    }
    if (sessions.length < BATCH) break;
    after = sessions.at(-1)!.id;
  }
  return result;
}

/** The value sealed for its owner, or null (noted) when it does not open with this TOTP_ENCRYPTION_KEY. */
function reseal(tagged: string, owner: TotpSecretOwner, result: ResealResult): string | null {
  try {
    return sealTotpSecret(decryptUnboundSecret(tagged.slice(RESEAL_TAG.length)), owner);
  } catch (error) {
    if (!(error instanceof SecretError)) throw error;
    // Kept as it is, tagged: the next run re-seals it once the right key is configured.
    result.unreadable.push(owner.kind === "user" ? `user ${owner.userId}` : `a session of user ${owner.userId}`);
    return null;
  }
}

/** One sentence for db:deploy and the server's start; null when there was nothing to do. */
export function describeReseal(result: ResealResult): string | null {
  const parts: string[] = [];
  if (result.resealed) parts.push(`Re-sealed ${result.resealed} authenticator secret${result.resealed === 1 ? "" : "s"}, each bound to its owner.`);
  if (result.unreadable.length) {
    const who = result.unreadable.slice(0, 5).join(", ") + (result.unreadable.length > 5 ? ", …" : "");
    parts.push(
      `${result.unreadable.length} old authenticator secret${result.unreadable.length === 1 ? " does" : "s do"} not open with TOTP_ENCRYPTION_KEY (${who}): ` +
        "they are refused until the key they were sealed with is configured (the next start re-seals them), or the users set up their app again.",
    );
  }
  return parts.length ? parts.join(" ") : null;
}
