// A user's app grants, as the portal's pages will show them: one per sign-in of an app ("Desktop, signed in …, last
// used …"), and ending one or all of them. For My Profile → Sessions and the admin's user page (issue 14; the pages
// themselves are not built yet). Everything is scoped by user id, so one user can never end another's grant.
import type { Prisma } from "~/generated/prisma/client.ts";
import { db } from "../db.server.ts";

type Client = Prisma.TransactionClient | typeof db;

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

/**
 * Ends the app grants of one or more users, with every code and token issued under them: all of them, or
 * (`signedInWith: "microsoft"`) only those made by a Microsoft sign-in, for the rule that ends Microsoft sessions
 * when Microsoft is no longer a user's method. Inside the method change's transaction when given one (`q`).
 */
export async function endAppGrantsOf(userIds: string | string[], options: { signedInWith?: "microsoft" } = {}, q: Client = db) {
  const accounts = typeof userIds === "string" ? [userIds] : userIds;
  if (!accounts.length) return { grants: 0, rows: 0 };
  let grantIds: string[];
  if (options.signedInWith === "microsoft") {
    // How a grant's user signed in is in its codes and refresh tokens (amr), not in the grant itself.
    const issued = await q.oidcPayload.findMany({
      where: { accountId: { in: accounts }, kind: { in: ["AuthorizationCode", "RefreshToken"] }, grantId: { not: null } },
      select: { grantId: true, payload: true },
    });
    grantIds = [...new Set(issued.filter((row) => (JSON.parse(row.payload) as { amr?: string[] }).amr?.includes("fed")).map((row) => row.grantId!))];
    if (!grantIds.length) return { grants: 0, rows: 0 };
  } else {
    const grants = await q.oidcPayload.findMany({
      where: { accountId: { in: accounts }, grantId: { not: null } },
      select: { grantId: true },
      distinct: ["grantId"],
    });
    grantIds = grants.map((g) => g.grantId!);
  }
  const where = options.signedInWith ? { grantId: { in: grantIds } } : { OR: [{ accountId: { in: accounts } }, { grantId: { in: grantIds } }] };
  const { count } = await q.oidcPayload.deleteMany({ where });
  return { grants: grantIds.length, rows: count };
}
