-- DropIndex
DROP INDEX "AuditEvent_orgId_createdAt_idx";

-- AlterTable
ALTER TABLE "AuditEvent" ADD COLUMN     "device" TEXT;

-- CreateIndex
CREATE INDEX "AuditEvent_orgId_createdAt_id_idx" ON "AuditEvent"("orgId", "createdAt", "id");

-- CreateIndex
CREATE INDEX "AuditEvent_orgId_action_createdAt_idx" ON "AuditEvent"("orgId", "action", "createdAt");

-- CreateIndex
CREATE INDEX "AuditEvent_orgId_actorId_createdAt_idx" ON "AuditEvent"("orgId", "actorId", "createdAt");

-- CreateIndex
CREATE INDEX "AuditEvent_orgId_targetId_createdAt_idx" ON "AuditEvent"("orgId", "targetId", "createdAt");
