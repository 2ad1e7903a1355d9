// A user's app grants, as the portal's pages will show them: one per sign-in of an app ("Desktop, signed in …, last
// used …"), and ending one or all of them. For My Profile → Sessions and the admin's user page (issue 14; the pages
// themselves are not built yet). Everything is scoped by user id, so one user can never end another's grant.
import { db } from "../db.server.ts";

export type AppGrant = { grantId: string; clientId: string; appName: string; signedInAt: Date; lastUsedAt: Date; expiresAt: Date | null };

/** The user's live app grants, newest first; lastUsedAt is when the app last got a token (sign-in or refresh). */
export async function appGrantsOf(userId: string, now = new Date()): Promise<AppGrant[]> {
  const grants = await db.oidcPayload.findMany({
    where: { kind: "Grant", accountId: userId, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    orderBy: { createdAt: "desc" },
  });
  if (!grants.length) return [];
  const ids = grants.map((g) => g.id);
  const [apps, used] = await Promise.all([
    db.oidcClient.findMany({ where: { clientId: { in: [...new Set(grants.map((g) => g.clientId ?? ""))] } }, select: { clientId: true, name: true } }),
    db.oidcPayload.groupBy({ by: ["grantId"], where: { grantId: { in: ids }, kind: { in: ["AccessToken", "RefreshToken"] } }, _max: { createdAt: true } }),
  ]);
  const nameOf = new Map(apps.map((a) => [a.clientId, a.name]));
  const lastOf = new Map(used.map((u) => [u.grantId, u._max.createdAt]));
  // A grant whose app was removed, or that never issued a token (an abandoned sign-in), is not a session.
  return grants
    .filter((g) => g.clientId && nameOf.has(g.clientId) && lastOf.get(g.id))
    .map((g) => ({
      grantId: g.id,
      clientId: g.clientId!,
      appName: nameOf.get(g.clientId!)!,
      signedInAt: g.createdAt,
      lastUsedAt: lastOf.get(g.id)!,
      expiresAt: g.expiresAt,
    }));
}

/** Ends one of the user's app grants (its codes and tokens with it); false when the user has no such grant. */
export async function endAppGrant(userId: string, grantId: string): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const owned = await tx.oidcPayload.count({ where: { kind: "Grant", id: grantId, accountId: userId } });
    if (!owned) return false;
    await tx.oidcPayload.deleteMany({ where: { grantId } });
    return true;
  });
}
