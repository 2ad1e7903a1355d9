-- AlterTable
ALTER TABLE "Integration" ADD COLUMN     "syncGroupName" TEXT;

-- AlterTable
ALTER TABLE "SyncRun" ADD COLUMN     "mode" TEXT,
ADD COLUMN     "resumed" BOOLEAN NOT NULL DEFAULT false;
