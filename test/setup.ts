// Runs before each test file: its own fresh database, fixed secrets, and no unexpected console.error.
import { copyFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { afterEach, beforeEach, inject, vi } from "vitest";
import { databaseFrom, usePostgres } from "./pg.ts";

const dir = inject("testDir");
const id = randomUUID();
const file = path.join(dir, `${id}.db`);
let databaseUrl = `file:${file}`;
if (usePostgres) {
  const template = inject("pgTemplate");
  databaseUrl = await databaseFrom(template, `${template.replace(/_template$/, "")}_${id.replaceAll("-", "")}`);
} else {
  copyFileSync(path.join(dir, "template.db"), file);
}

Object.assign(process.env, {
  NODE_ENV: "test",
  DATABASE_URL: databaseUrl,
  APP_ORIGIN: "http://localhost:3000",
  SESSION_SECRET: "test-session-secret-that-is-long-enough-0123456789",
  TOTP_ENCRYPTION_KEY: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
  // The OpenID Provider's signing key (required in production, which some tests start).
  OIDC_JWKS: JSON.stringify({
    keys: [
      {
        kty: "EC",
        crv: "P-256",
        alg: "ES256",
        use: "sig",
        kid: "test-key-1",
        x: "KXqrLgyZf4pwnCQCY6Yhew9Z5hFDDOcVeLErYnQii30",
        y: "3er3fxYBxQqNJamneDKK4c8j7BPobtnS_dyQwT-JuUI",
        d: "cRoOFJF3hooC2BqzFPAeUQG6wb7bN4aGiNrFKuoDWD8",
      },
    ],
  }),
  OUTBOX_DIR: path.join(dir, `outbox-${path.basename(file, ".db")}`),
});
delete process.env.SMTP_URL;

// Every test starts from empty tables (the file's own database, so nothing else is touched).
beforeEach(async () => {
  const { emptyDatabase } = await import("./helpers.ts");
  await emptyDatabase();
});

// The app logs errors through its logger (app/lib/log.server.ts): an error line is as unexpected as a console.error.
const { log } = await import("../app/lib/log.server.ts");
// In this process only (servers the tests start log at their own LOG_LEVEL): no info lines between the results.
log.level = "warn";
let errorSpy: ReturnType<typeof vi.spyOn>;
let logErrorSpy: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  errorSpy = vi.spyOn(console, "error");
  logErrorSpy = vi.spyOn(log, "error");
});
afterEach(() => {
  const calls = errorSpy?.mock.calls ?? [];
  const logged = logErrorSpy?.mock.calls ?? [];
  errorSpy?.mockRestore();
  logErrorSpy?.mockRestore();
  if (calls.length) throw new Error(`console.error was called: ${calls.map((c: unknown[]) => c.join(" ")).join("\n")}`);
  const shown = (_: string, v: unknown) => (v instanceof Error ? v.stack : v);
  if (logged.length) throw new Error(`An error was logged: ${logged.map((c: unknown[]) => JSON.stringify(c, shown)).join("\n")}`);
});
