-- Authenticator secrets get bound to their owner (issue 13, finding 12, docs/decisions/018-totp-secret-binding.md).
-- SQL cannot run AES: this tags each unbound (v1) ciphertext, and the app re-seals the tagged ones bound to their
-- row (app/lib/totp-reseal.server.ts, run by npm run db:deploy and at every start). No schema change.
UPDATE "User" SET "totpSecret" = 'reseal.' || "totpSecret" WHERE "totpSecret" LIKE 'v1.%';
UPDATE "Session" SET "totpPendingSecret" = 'reseal.' || "totpPendingSecret" WHERE "totpPendingSecret" LIKE 'v1.%';
