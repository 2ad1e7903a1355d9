-- AlterTable
ALTER TABLE "Session" ADD COLUMN "totpPendingSecret" TEXT;

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_User" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "email" TEXT,
    "phone" TEXT,
    "name" TEXT NOT NULL,
    "jobTitle" TEXT,
    "role" TEXT NOT NULL DEFAULT 'member',
    "source" TEXT NOT NULL DEFAULT 'local',
    "status" TEXT NOT NULL DEFAULT 'active',
    "passwordHash" TEXT,
    "passwordChangedAt" DATETIME,
    "passwordLockedAt" DATETIME,
    "totpSecret" TEXT,
    "totpEnrolledAt" DATETIME,
    "totpLastStep" INTEGER,
    "ssoEnabled" BOOLEAN NOT NULL DEFAULT false,
    "linkPrompt" TEXT NOT NULL DEFAULT 'ask',
    "entraTenantId" TEXT,
    "entraObjectId" TEXT,
    "entraUpn" TEXT,
    "syncIntegrationId" TEXT,
    "lastSyncedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "User_orgId_fkey" FOREIGN KEY ("orgId") REFERENCES "Organization" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "User_syncIntegrationId_fkey" FOREIGN KEY ("syncIntegrationId") REFERENCES "Integration" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_User" ("createdAt", "email", "entraObjectId", "entraTenantId", "entraUpn", "id", "jobTitle", "lastSyncedAt", "linkPrompt", "name", "orgId", "passwordChangedAt", "passwordHash", "passwordLockedAt", "phone", "role", "source", "ssoEnabled", "status", "syncIntegrationId", "totpEnrolledAt", "totpLastStep", "totpSecret", "updatedAt") SELECT "createdAt", "email", "entraObjectId", "entraTenantId", "entraUpn", "id", "jobTitle", "lastSyncedAt", "linkPrompt", "name", "orgId", "passwordChangedAt", "passwordHash", "passwordLockedAt", "phone", "role", "source", "ssoEnabled", "status", "syncIntegrationId", "totpEnrolledAt", "totpLastStep", "totpSecret", "updatedAt" FROM "User";
DROP TABLE "User";
ALTER TABLE "new_User" RENAME TO "User";
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE UNIQUE INDEX "User_phone_key" ON "User"("phone");
CREATE INDEX "User_orgId_source_idx" ON "User"("orgId", "source");
CREATE UNIQUE INDEX "User_entraTenantId_entraObjectId_key" ON "User"("entraTenantId", "entraObjectId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
