// Loads what the strategy needs for a user and asks it. The only door to resolveSignIn on the server.
import type { User } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { resolveSignIn, strategyUser, type SignInStrategy } from "./strategy.ts";

type SqlBoolean = boolean | number | bigint;
type StrategyRow = {
  ssoLicensed: SqlBoolean;
  ssoEnabled: SqlBoolean;
  ssoForAllSynced: SqlBoolean;
  syncStatus: string | null;
  hasActiveIntegration: SqlBoolean;
  linkId: string | null;
  linkStatus: string | null;
};

// Runs twice in every sign-in: one statement instead of one query per relation (Prisma does not join them).
// Plain SQL that SQLite and PostgreSQL both read; EXISTS comes back as 0/1 from SQLite, true/false elsewhere.
const strategyRow = (user: User) => db.$queryRaw<StrategyRow[]>`
  SELECT o."ssoLicensed", o."ssoEnabled", o."ssoForAllSynced", s."status" AS "syncStatus",
    EXISTS (SELECT 1 FROM "Integration" i WHERE i."orgId" = o."id" AND i."status" = 'active') AS "hasActiveIntegration",
    l."id" AS "linkId", li."status" AS "linkStatus"
  FROM "Organization" o
  LEFT JOIN "Integration" s ON s."id" = o."syncIntegrationId"
  LEFT JOIN "MicrosoftLink" l ON l."userId" = ${user.id}
  LEFT JOIN "Integration" li ON li."id" = l."integrationId"
  WHERE o."id" = ${user.orgId}`;

export async function signInStrategyFor(user: User): Promise<SignInStrategy> {
  const [row] = await strategyRow(user);
  if (!row) throw new Error(`The organization ${user.orgId} of user ${user.id} does not exist.`);
  return resolveSignIn({
    org: {
      ssoLicensed: Boolean(row.ssoLicensed),
      ssoEnabled: Boolean(row.ssoEnabled),
      ssoForAllSynced: Boolean(row.ssoForAllSynced),
      syncIntegrationActive: row.syncStatus === "active",
      hasActiveIntegration: Boolean(row.hasActiveIntegration),
    },
    user: strategyUser(user, row.linkId ? { integrationActive: row.linkStatus === "active" } : null),
  });
}

/** The Microsoft identity a user signs in with: their link, or the identity sync gave them. */
export async function microsoftIdentityOf(user: User, strategy: SignInStrategy) {
  if (strategy.identity === "sync" && user.entraTenantId && user.entraObjectId) {
    return { tenantId: user.entraTenantId, objectId: user.entraObjectId, upn: user.entraUpn };
  }
  if (strategy.identity === "link") {
    const link = await db.microsoftLink.findUnique({ where: { userId: user.id } });
    if (link) return { tenantId: link.tenantId, objectId: link.objectId, upn: link.upn };
  }
  return null;
}

/** The user whose Microsoft identity this is — by (tid, oid) only, never by email — and whose org has that tenant active. */
export async function userForMicrosoftIdentity(tenantId: string, objectId: string): Promise<User | null> {
  const link = await db.microsoftLink.findUnique({ where: { tenantId_objectId: { tenantId, objectId } }, include: { user: true, integration: true } });
  const user = link?.user ?? (await db.user.findUnique({ where: { entraTenantId_entraObjectId: { entraTenantId: tenantId, entraObjectId: objectId } } }));
  if (!user || user.status !== "active") return null;
  const integration = await db.integration.findFirst({ where: { orgId: user.orgId, tenantId, status: "active" } });
  return integration ? user : null;
}
