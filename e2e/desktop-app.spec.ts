// Playwright plays the system browser for the reference desktop app (`npm run desktop-demo`): the app prints the
// sign-in URL, the browser signs in on the portal's pages and is sent to the app's loopback port, and the app
// prints who signed in. With and without JavaScript (the redirects to the app must survive the CSP and Remix).
import { spawn, type ChildProcess } from "node:child_process";
import { createApp } from "../app/lib/oidc/clients.server.ts";
import { expect, signIn, test, totp, PASSWORD } from "./fixtures.ts";

type Demo = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

async function startDemo(): Promise<{ demo: Demo; url: string }> {
  const { app } = await createApp({ name: "Desktop", redirectUris: ["http://127.0.0.1/callback"] });
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "scripts/desktop-demo.ts", "--issuer", process.env.APP_ORIGIN!, "--client-id", app.clientId, "--no-browser"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  for (const stream of [child.stdout!, child.stderr!]) stream.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const demo = { child, output: () => output, exited };
  await expect.poll(() => /^http:\/\/\S+\/oidc\/auth\?\S+$/m.test(output), { timeout: 20_000 }).toBe(true);
  return { demo, url: /^(http:\/\/\S+\/oidc\/auth\?\S+)$/m.exec(output)![1]! };
}

async function finished(demo: Demo) {
  expect(await demo.exited, demo.output()).toBe(0);
  return demo.output();
}

test("a password + TOTP user signs in to the desktop app in the browser", async ({ page, account }) => {
  const { demo, url } = await startDemo();
  try {
    await page.goto(url);
    await expect(page).toHaveURL(/\/login\?redirectTo=%2Fapps%2Fcontinue/);
    await page.getByLabel("Email address or mobile number").fill(account.email);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByLabel("6-digit code from your authenticator app").fill(await totp(account.secret));
    await page.getByRole("button", { name: "Verify" }).click();
    await expect(page.getByText("You can close this window")).toBeVisible();
    expect(new URL(page.url()).hostname).toBe("127.0.0.1");
    const output = await finished(demo);
    expect(output).toContain(`<${account.email}>`);
    expect(output).toContain("signed in with pwd + otp + mfa");
    expect(output).toContain("(checked: the revoked refresh token is refused)");
  } finally {
    demo.child.kill();
  }
});

test("a user already signed in to the portal goes straight back to the app", async ({ page, account }) => {
  await signIn(page, account);
  const { demo, url } = await startDemo();
  try {
    await page.goto(url);
    await expect(page.getByText("You can close this window")).toBeVisible();
    expect(await finished(demo)).toContain(`<${account.email}>`);
  } finally {
    demo.child.kill();
  }
});
