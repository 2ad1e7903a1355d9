import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { sha256 } from "~/lib/crypto.server.ts";
import { handlePasswordResetRequests } from "~/lib/password-reset.server.ts";
import * as forgot from "~/routes/forgot-password.tsx";
import * as reset from "~/routes/reset-password.tsx";
import * as login from "~/routes/login._index.tsx";
import { ADDRESS, Browser, createUser, PASSWORD } from "./helpers.ts";

const NEW_PASSWORD = "a brand new passphrase";

/** The form, then the mail worker's first step: the per-account work happens after the answer. */
async function askForReset(identifier: string) {
  const r = await new Browser().post(forgot.action, "/forgot-password", { identifier });
  await handlePasswordResetRequests();
  return r;
}

async function resetLinkFor(email: string) {
  const mail = await db.outgoingMail.findFirstOrThrow({ where: { to: email, template: "password-reset" } });
  const url = mail.text.match(/http:\/\/localhost:3000\/reset-password\?token=[A-Za-z0-9_-]+/)?.[0];
  expect(url).toBeTruthy();
  return new URL(url!);
}

describe("forgotten password", () => {
  it("answers the same for known and unknown identifiers, and mails only the known one", async () => {
    const { user } = await createUser();
    const known = await askForReset(user.email!);
    const unknown = await new Browser().post(forgot.action, "/forgot-password", { identifier: "nobody@example.test" });
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect(known.data.sent).toBe(true);
    expect(unknown.data.sent).toBe(true);
    expect(await db.outgoingMail.count()).toBe(1);
    const token = await db.oneTimeToken.findFirstOrThrow();
    expect(token.type).toBe("password_reset");
    expect(token.expiresAt.getTime() - token.createdAt.getTime()).toBeLessThanOrEqual(30 * 60_000 + 1000);
    const link = await resetLinkFor(user.email!);
    // Only the hash is stored.
    expect(token.tokenHash).toBe(sha256(link.searchParams.get("token")!));
  });

  it("resets the password once, ends sessions, and still asks for TOTP", async () => {
    const { user } = await createUser();
    await askForReset(user.email!);
    const link = await resetLinkFor(user.email!);
    const b = new Browser();
    const page = await b.get(reset.loader, link.pathname + link.search);
    expect(page.data.valid).toBe(true);
    const token = link.searchParams.get("token")!;
    const done = await b.post(reset.action, "/reset-password", { token, newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
    expect(done.location).toBe("/login");
    const step = await new Browser().post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: NEW_PASSWORD });
    expect(step.location).toBe("/login/totp");
    const old = await new Browser().post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD });
    expect(old.status).toBe(400);

    const again = await b.post(reset.action, "/reset-password", { token, newPassword: "another password 2", confirmPassword: "another password 2" });
    expect(again.status).toBe(400);
    expect(again.data.formError).toMatch(/expired or was already used/);
    expect((await b.get(reset.loader, link.pathname + link.search)).data.valid).toBe(false);
  });

  it("refuses an expired link and changes nothing", async () => {
    const { user } = await createUser();
    await askForReset(user.email!);
    const link = await resetLinkFor(user.email!);
    await db.oneTimeToken.updateMany({ data: { expiresAt: new Date(Date.now() - 1000) } });
    const before = (await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash;
    const r = await new Browser().post(reset.action, "/reset-password", {
      token: link.searchParams.get("token")!,
      newPassword: NEW_PASSWORD,
      confirmPassword: NEW_PASSWORD,
    });
    expect(r.status).toBe(400);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toBe(before);
  });

  it("clears a password lock", async () => {
    const { user } = await createUser();
    await db.user.update({ where: { id: user.id }, data: { passwordLockedAt: new Date() } });
    await db.signInAttempt.createMany({
      data: [`account:${user.id}`, `pair:${user.id}|${ADDRESS}`].map((key) => ({
        key,
        attempts: 100,
        windowStartMs: 0,
        lastAttemptMs: 0,
        nextAllowedMs: Date.now() + 60_000,
      })),
    });
    await askForReset(user.email!);
    const link = await resetLinkFor(user.email!);
    await new Browser().post(reset.action, "/reset-password", {
      token: link.searchParams.get("token")!,
      newPassword: NEW_PASSWORD,
      confirmPassword: NEW_PASSWORD,
    });
    const step = await new Browser().post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: NEW_PASSWORD });
    expect(step.location).toBe("/login/totp");
  });

  it("sends at most one message a minute per account", async () => {
    const { user } = await createUser();
    for (let i = 0; i < 3; i++) await askForReset(user.email!);
    expect(await db.outgoingMail.count()).toBe(1);
  });

  it.each([
    ["a short password", { newPassword: "short", confirmPassword: "short" }, "newPassword", /at least 8/],
    ["a 10 kB password", { newPassword: "x".repeat(10_000), confirmPassword: "x".repeat(10_000) }, "newPassword", /at most 256/],
    ["passwords that differ", { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD + "!" }, "confirmPassword", /don't match/],
    ["a missing confirmation", { newPassword: NEW_PASSWORD }, "confirmPassword", /.+/],
  ])("rejects %s and keeps the token usable", async (_label, fields, field, message) => {
    const { user } = await createUser();
    await askForReset(user.email!);
    const token = (await resetLinkFor(user.email!)).searchParams.get("token")!;
    const r = await new Browser().post(reset.action, "/reset-password", { token, ...fields } as Record<string, string>);
    expect(r.status).toBe(400);
    expect(r.data.errors[field]).toMatch(message);
    expect(await db.oneTimeToken.count({ where: { usedAt: null } })).toBe(1);
  });

  it.each([
    ["empty", ""],
    ["garbage", "'; DROP TABLE User; --"],
    ["too long", "a".repeat(10_000)],
    ["unicode", "ťőκέν"],
  ])("treats a %s token as invalid", async (_l, token) => {
    const { user } = await createUser();
    const before = (await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash;
    const page = await new Browser().get(reset.loader, `/reset-password?token=${encodeURIComponent(token)}`);
    expect(page.data.valid).toBe(false);
    const r = await new Browser().post(reset.action, "/reset-password", { token, newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
    expect(r.status).toBe(400);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toBe(before);
  });

  it.each([
    ["empty", ""],
    ["too long", "x".repeat(10_000)],
    ["html", "<img src=x onerror=alert(1)>"],
  ])("rejects a %s identifier with a message", async (_l, identifier) => {
    const r = await new Browser().post(forgot.action, "/forgot-password", { identifier });
    expect(r.status).toBe(400);
    expect(r.data.errors.identifier).toBeTruthy();
    expect(await db.oneTimeToken.count()).toBe(0);
  });
});
