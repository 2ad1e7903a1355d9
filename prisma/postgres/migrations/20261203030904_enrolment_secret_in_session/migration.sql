-- AlterTable
ALTER TABLE "Session" ADD COLUMN     "totpPendingSecret" TEXT;

-- AlterTable
ALTER TABLE "User" DROP COLUMN "totpPendingSecret";
