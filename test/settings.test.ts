import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import * as login from "~/routes/login._index.tsx";
import * as totp from "~/routes/login.totp.tsx";
import * as password from "~/routes/settings.password.tsx";
import * as twoFactor from "~/routes/settings.two-factor.tsx";
import * as recovery from "~/routes/settings.recovery-codes.tsx";
import * as sessions from "~/routes/settings.sessions.tsx";
import * as profile from "~/routes/settings._index.tsx";
import { Browser, createUser, PASSWORD, totpCode } from "./helpers.ts";

async function signedIn(secretOffset = 0) {
  const { user, secret } = await createUser();
  const b = await signInAs(user.email!, secret, secretOffset);
  return { user, secret, b };
}

async function signInAs(email: string, secret: string, offset = 0) {
  const b = new Browser();
  await b.post(login.action, "/login?index", { intent: "password", identifier: email, password: PASSWORD });
  const r = await b.post(totp.action, "/login/totp", { code: await totpCode(secret, offset) });
  expect(r.location).toBe("/");
  return b;
}

describe("settings need a signed-in user", () => {
  it.each([
    ["profile", profile.loader],
    ["password", password.loader],
    ["two-factor", twoFactor.loader],
    ["recovery codes", recovery.loader],
    ["sessions", sessions.loader],
  ])("%s redirects anonymous visitors to sign in, keeping where they were going", async (_l, loader) => {
    const r = await new Browser().get(loader as never, "/settings/sessions");
    expect(r.location).toBe("/login?redirectTo=%2Fsettings%2Fsessions");
  });

  it("does not let a half-finished sign-in in", async () => {
    const { user } = await createUser();
    const b = new Browser();
    await b.post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD });
    expect((await b.get(profile.loader as never, "/settings")).location).toMatch(/^\/login/);
  });
});

describe("change password", () => {
  it("needs the current password, then signs out other sessions", async () => {
    const { user, secret, b } = await signedIn(-1);
    const other = await signInAs(user.email!, secret, 0);
    const wrong = await b.post(password.action, "/settings/password", {
      currentPassword: "nope nope",
      newPassword: "new password 1",
      confirmPassword: "new password 1",
    });
    expect(wrong.status).toBe(400);
    expect(wrong.data.errors.currentPassword).toMatch(/not your current password/);
    const ok = await b.post(password.action, "/settings/password", {
      currentPassword: PASSWORD,
      newPassword: "new password 1",
      confirmPassword: "new password 1",
    });
    expect(ok.location).toBe("/settings/password");
    expect(await db.session.count()).toBe(1);
    expect((await other.get(profile.loader as never, "/settings")).location).toMatch(/^\/login/);
    expect((await b.get(profile.loader as never, "/settings")).status).toBe(200);
  });

  it.each([
    ["missing fields", {}],
    ["a short new password", { currentPassword: PASSWORD, newPassword: "short", confirmPassword: "short" }],
    ["a 10 kB new password", { currentPassword: PASSWORD, newPassword: "y".repeat(10_000), confirmPassword: "y".repeat(10_000) }],
    ["a mismatch", { currentPassword: PASSWORD, newPassword: "new password 1", confirmPassword: "new password 2" }],
  ])("rejects %s and keeps the old password", async (_l, fields) => {
    const { user, b } = await signedIn();
    const before = (await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash;
    const r = await b.post(password.action, "/settings/password", fields as Record<string, string>);
    expect(r.status).toBe(400);
    expect(Object.keys(r.data.errors).length).toBeGreaterThan(0);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toBe(before);
  });
});

describe("replace the authenticator app", () => {
  it("needs a fresh code from the current app and one from the new secret", async () => {
    const { user, secret, b } = await signedIn(-1);
    const page = await b.get(twoFactor.loader as never, "/settings/two-factor");
    const newSecret = new URL(page.data.setup.uri).searchParams.get("secret")!;
    expect(newSecret).not.toBe(secret);

    const badCurrent = await b.post(twoFactor.action, "/settings/two-factor", { currentCode: "000000", newCode: await totpCode(newSecret) });
    expect(badCurrent.status).toBe(400);
    expect(badCurrent.data.errors.currentCode).toBeTruthy();
    const badNew = await b.post(twoFactor.action, "/settings/two-factor", { currentCode: await totpCode(secret, 0), newCode: "000000" });
    expect(badNew.status).toBe(400);
    expect(badNew.data.errors.newCode).toBeTruthy();
    // The current code used above is spent; the next step's code is still within tolerance.
    const ok = await b.post(twoFactor.action, "/settings/two-factor", { currentCode: await totpCode(secret, 1), newCode: await totpCode(newSecret) });
    expect(ok.status).toBe(200);
    expect(ok.data.codes).toHaveLength(10);
    const after = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(await db.session.count({ where: { userId: user.id, totpPendingSecret: { not: null } } })).toBe(0);
    expect(after.totpSecret).not.toBe(user.totpSecret);
  });
});

describe("recovery codes", () => {
  it("regenerates with a fresh code and replaces the old ones", async () => {
    const { user, secret, b } = await signedIn(-1);
    const first = await b.post(recovery.action, "/settings/recovery-codes", { code: await totpCode(secret, 0) });
    expect(first.data.codes).toHaveLength(10);
    const replay = await b.post(recovery.action, "/settings/recovery-codes", { code: await totpCode(secret, 0) });
    expect(replay.status).toBe(400);
    const second = await b.post(recovery.action, "/settings/recovery-codes", { code: await totpCode(secret, 1) });
    expect(second.data.codes).toHaveLength(10);
    expect(second.data.codes).not.toContain(first.data.codes[0]);
    expect(await db.recoveryCode.count({ where: { userId: user.id } })).toBe(10);
    expect((await b.get(recovery.loader as never, "/settings/recovery-codes")).data.remaining).toBe(10);
  });

  it.each([
    ["empty", ""],
    ["letters", "abcdef"],
    ["10 kB", "1".repeat(10_000)],
  ])("rejects a %s code", async (_l, code) => {
    const { user, b } = await signedIn();
    const r = await b.post(recovery.action, "/settings/recovery-codes", { code });
    expect(r.status).toBe(400);
    expect(await db.recoveryCode.count({ where: { userId: user.id } })).toBe(0);
  });
});

describe("sessions", () => {
  it("lists sessions and signs out one or all others, never someone else's", async () => {
    const { user, secret, b } = await signedIn(-1);
    const phone = await signInAs(user.email!, secret, 0);
    const list = await b.get(sessions.loader as never, "/settings/sessions");
    expect(list.data.sessions).toHaveLength(2);
    expect(list.data.sessions.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    expect(list.data.sessions[0].device).toBe("Chrome on Linux");

    const stranger = await createUser();
    const strangerBrowser = await signInAs(stranger.user.email!, stranger.secret, 0);
    const strangerSession = await db.session.findFirstOrThrow({ where: { userId: stranger.user.id } });
    const refused = await b.post(sessions.action, "/settings/sessions", { intent: "end", handle: strangerSession.id.slice(0, 16) });
    expect(refused.status).toBe(400);
    expect(await db.session.count({ where: { userId: stranger.user.id } })).toBe(1);

    const other = list.data.sessions.find((s: { current: boolean }) => !s.current);
    const ended = await b.post(sessions.action, "/settings/sessions", { intent: "end", handle: other.handle });
    expect(ended.location).toBe("/settings/sessions");
    expect((await phone.get(profile.loader as never, "/settings")).location).toMatch(/^\/login/);
    expect((await strangerBrowser.get(profile.loader as never, "/settings")).status).toBe(200);
  });

  it.each([
    ["no intent", {}],
    ["an unknown intent", { intent: "drop-table" }],
    ["a malformed handle", { intent: "end", handle: "../../etc" }],
  ])("rejects %s", async (_l, form) => {
    const { b } = await signedIn();
    const r = await b.post(sessions.action, "/settings/sessions", form as Record<string, string>);
    expect(r.status).toBe(400);
    expect(r.data.formError).toBeTruthy();
    expect(await db.session.count()).toBe(1);
  });
});
