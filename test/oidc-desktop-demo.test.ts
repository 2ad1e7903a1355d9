// `npm run desktop-demo` against the portal: the reference desktop app prints the URL (no browser here), this
// test plays the browser, and the app prints who signed in, calls userinfo, refreshes and signs out.
import { afterAll, beforeAll, expect, it } from "vitest";
import { createUser } from "./helpers.ts";
import { OidcBrowser, startPortal, type Portal } from "./oidc-browser.ts";
import { appEnv, NodeProcess, waitFor } from "./processes.ts";
import { seedDesktopApp } from "../scripts/demo-seed.ts";

let portal: Portal;
beforeAll(async () => {
  portal = await startPortal();
}, 180_000);
afterAll(() => portal?.close());

it("signs a password + TOTP user in through the system browser and the loopback port, then refreshes and signs out", async () => {
  await seedDesktopApp();
  await seedDesktopApp();
  const { user, secret } = await createUser();
  const app = new NodeProcess(["scripts/desktop-demo.ts", "--issuer", portal.origin, "--no-browser"], appEnv());
  try {
    const url = await waitFor("the sign-in URL", async () => /^(http:\/\/127\.0\.0\.1:\d+\/oidc\/auth\?\S+)$/m.exec(app.output)?.[1], 30_000, app);
    const browser = new OidcBrowser(portal.origin);
    const first = await browser.follow(url);
    const done = await browser.signIn(first.last, user.email!, secret);
    expect(done.left?.hostname).toBe("127.0.0.1");
    // The browser arrives at the app's loopback listener.
    expect((await fetch(done.left!)).status).toBe(200);
    await app.exited;
    expect(app.child.exitCode, app.output).toBe(0);
    expect(app.output).toContain(`Signed in as ${user.name} <${user.email}> of Acme.`);
    expect(app.output).toContain(`sub ${user.id}, signed in with pwd + otp + mfa`);
    expect(app.output).toContain(`Userinfo: {"sub":"${user.id}","name":"${user.name}","email":"${user.email}","org":{"id":"${user.orgId}","name":"Acme"}}`);
    expect(app.output).toContain("Refreshed:");
    expect(app.output).toContain("(checked: the revoked refresh token is refused)");
  } finally {
    await app.stop();
  }
}, 60_000);

it("says in one sentence when the portal does not answer", async () => {
  const app = new NodeProcess(["scripts/desktop-demo.ts", "--issuer", "http://127.0.0.1:9", "--no-browser"], appEnv());
  await app.exited;
  expect(app.child.exitCode).toBe(1);
  expect(app.output.trim()).toMatch(
    /^The portal at http:\/\/127\.0\.0\.1:9 did not answer its discovery \(.+\): start it with `npm run demo`, or pass --issuer\.$/,
  );
}, 30_000);
