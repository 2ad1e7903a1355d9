// Loads what the strategy needs for a user and asks it. The only door to resolveSignIn on the server.
import type { User } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { resolveSignIn, type SignInStrategy } from "./strategy.ts";

export async function signInStrategyFor(user: User): Promise<SignInStrategy> {
  const [org, activeIntegrations, link] = await Promise.all([
    db.organization.findUniqueOrThrow({ where: { id: user.orgId }, include: { syncIntegration: { select: { status: true } } } }),
    db.integration.count({ where: { orgId: user.orgId, status: "active" } }),
    db.microsoftLink.findUnique({ where: { userId: user.id }, include: { integration: { select: { status: true } } } }),
  ]);
  return resolveSignIn({
    org: {
      ssoLicensed: org.ssoLicensed,
      ssoEnabled: org.ssoEnabled,
      ssoForAllSynced: org.ssoForAllSynced,
      syncIntegrationActive: org.syncIntegration?.status === "active",
      hasActiveIntegration: activeIntegrations > 0,
    },
    user: {
      source: user.source === "synced" ? "synced" : "local",
      ssoEnabled: user.ssoEnabled,
      hasPassword: Boolean(user.passwordHash),
      linkPrompt: user.linkPrompt === "declined" ? "declined" : "ask",
      link: link ? { integrationActive: link.integration.status === "active" } : null,
    },
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
