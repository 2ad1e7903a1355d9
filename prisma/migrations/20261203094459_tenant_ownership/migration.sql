-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Integration" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "tenantDomain" TEXT,
    "displayName" TEXT,
    "status" TEXT NOT NULL DEFAULT 'pending_consent',
    "failureReason" TEXT,
    "addedById" TEXT,
    "consentedAt" DATETIME,
    "removedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "claimedTenantId" TEXT,
    "ownerProvenAt" DATETIME,
    "ownerProvenById" TEXT,
    "ownerObjectId" TEXT,
    "ownerUpn" TEXT,
    "ownerRole" TEXT,
    "grantedRoles" TEXT,
    "grantedRolesAt" DATETIME,
    "syncScope" TEXT NOT NULL DEFAULT 'tenant',
    "syncGroupId" TEXT,
    "usersDeltaLink" TEXT,
    "groupsDeltaLink" TEXT,
    "syncLockedBy" TEXT,
    "syncLockedUntil" DATETIME,
    CONSTRAINT "Integration_orgId_fkey" FOREIGN KEY ("orgId") REFERENCES "Organization" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Integration_addedById_fkey" FOREIGN KEY ("addedById") REFERENCES "User" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Integration_ownerProvenById_fkey" FOREIGN KEY ("ownerProvenById") REFERENCES "User" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Integration" ("addedById", "consentedAt", "createdAt", "displayName", "failureReason", "groupsDeltaLink", "id", "orgId", "removedAt", "status", "syncGroupId", "syncLockedBy", "syncLockedUntil", "syncScope", "tenantDomain", "tenantId", "updatedAt", "usersDeltaLink") SELECT "addedById", "consentedAt", "createdAt", "displayName", "failureReason", "groupsDeltaLink", "id", "orgId", "removedAt", "status", "syncGroupId", "syncLockedBy", "syncLockedUntil", "syncScope", "tenantDomain", "tenantId", "updatedAt", "usersDeltaLink" FROM "Integration";
DROP TABLE "Integration";
-- Integrations active before the proof existed keep their tenant (decision 015), the others hold no claim.
UPDATE "new_Integration" SET "claimedTenantId" = "tenantId" WHERE "status" = 'active';
ALTER TABLE "new_Integration" RENAME TO "Integration";
CREATE UNIQUE INDEX "Integration_claimedTenantId_key" ON "Integration"("claimedTenantId");
CREATE INDEX "Integration_orgId_idx" ON "Integration"("orgId");
CREATE UNIQUE INDEX "Integration_orgId_tenantId_key" ON "Integration"("orgId", "tenantId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
