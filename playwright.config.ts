import { defineConfig } from "@playwright/test";
import path from "node:path";
import { STANDIN_APP } from "./test/entra/fixture.ts";

// One database, outbox and port for the whole e2e run; the test workers create their users in it directly.
const dir = path.resolve(".tmp/e2e");
const port = Number(process.env.E2E_PORT ?? 3210);
// The Microsoft stand-in (test/entra), started by e2e/serve.sh beside the portal.
const standinPort = Number(process.env.E2E_STANDIN_PORT ?? 3211);
Object.assign(process.env, {
  NODE_ENV: "test",
  DATABASE_URL: `file:${dir}/portal.db`,
  TOTP_ENCRYPTION_KEY: "a1".repeat(32),
  SESSION_SECRET: "e2e-session-secret-0123456789-0123456789",
  APP_ORIGIN: `http://localhost:${port}`,
  OUTBOX_DIR: `${dir}/outbox`,
  E2E_DIR: dir,
  STANDIN_PORT: String(standinPort),
  ENTRA_CLIENT_ID: STANDIN_APP.clientId,
  ENTRA_CLIENT_SECRET: STANDIN_APP.clientSecret,
  ENTRA_AUTHORITY_HOST: `https://localhost:${standinPort}`,
  GRAPH_BASE_URL: `https://localhost:${standinPort}`,
});

export default defineConfig({
  testDir: "e2e",
  timeout: 60_000,
  fullyParallel: true,
  workers: 2,
  retries: process.env.CI ? 1 : 0,
  reporter: "list",
  use: {
    baseURL: `http://localhost:${port}`,
    trace: "retain-on-failure",
    // The stand-in's certificate is self-signed; the portal itself trusts it through NODE_EXTRA_CA_CERTS.
    ignoreHTTPSErrors: true,
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    },
  },
  projects: [
    { name: "js", use: { javaScriptEnabled: true } },
    { name: "no-js", use: { javaScriptEnabled: false } },
  ],
  webServer: {
    command: "bash e2e/serve.sh",
    url: `http://localhost:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 120_000,
    env: { ...(process.env as Record<string, string>), PORT: String(port), DEMO_MODE: "true" },
    stdout: "ignore",
    stderr: "pipe",
  },
});
