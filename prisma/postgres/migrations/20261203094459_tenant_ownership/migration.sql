-- DropIndex
DROP INDEX "Integration_tenantId_key";

-- AlterTable
ALTER TABLE "Integration" ADD COLUMN     "claimedTenantId" TEXT,
ADD COLUMN     "grantedRoles" TEXT,
ADD COLUMN     "grantedRolesAt" TIMESTAMP(3),
ADD COLUMN     "ownerObjectId" TEXT,
ADD COLUMN     "ownerProvenAt" TIMESTAMP(3),
ADD COLUMN     "ownerProvenById" TEXT,
ADD COLUMN     "ownerRole" TEXT,
ADD COLUMN     "ownerUpn" TEXT;

-- Integrations active before the proof existed keep their tenant (decision 015), the others hold no claim.
UPDATE "Integration" SET "claimedTenantId" = "tenantId" WHERE "status" = 'active';

-- CreateIndex
CREATE UNIQUE INDEX "Integration_claimedTenantId_key" ON "Integration"("claimedTenantId");

-- CreateIndex
CREATE UNIQUE INDEX "Integration_orgId_tenantId_key" ON "Integration"("orgId", "tenantId");

-- AddForeignKey
ALTER TABLE "Integration" ADD CONSTRAINT "Integration_ownerProvenById_fkey" FOREIGN KEY ("ownerProvenById") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;
