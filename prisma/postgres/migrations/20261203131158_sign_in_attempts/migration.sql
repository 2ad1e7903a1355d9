-- CreateTable
CREATE TABLE "SignInAttempt" (
    "key" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "windowStartMs" BIGINT NOT NULL,
    "lastAttemptMs" BIGINT NOT NULL,
    "nextAllowedMs" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "SignInAttempt_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "SignInAttempt_lastAttemptMs_idx" ON "SignInAttempt"("lastAttemptMs");

-- Accounts keep their consecutive failures, so the lock at 100 goes on counting. Waits and addresses start afresh.
-- (No semicolon in comments: the migration engine splits statements at every one.)
INSERT INTO "SignInAttempt" ("key", "attempts", "windowStartMs", "lastAttemptMs", "nextAllowedMs")
SELECT "key", "failures", 0, 0, 0 FROM "SignInThrottle" WHERE "key" LIKE 'account:%' AND "failures" > 0;

-- DropTable
DROP TABLE "SignInThrottle";

