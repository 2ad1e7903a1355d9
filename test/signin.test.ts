import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { sha256 } from "~/lib/crypto.server.ts";
import * as login from "~/routes/login._index.tsx";
import * as totp from "~/routes/login.totp.tsx";
import * as enrol from "~/routes/login.enrol.tsx";
import * as home from "~/routes/_index.tsx";
import * as logout from "~/routes/logout.tsx";
import { Browser, createUser, PASSWORD, totpCode } from "./helpers.ts";

async function passwordStep(b: Browser, identifier: string, password = PASSWORD) {
  return b.post(login.action, "/login?index", { intent: "password", identifier, password });
}

async function signIn(b: Browser, identifier: string, secret: string) {
  const step = await passwordStep(b, identifier);
  expect(step.location).toBe("/login/totp");
  return b.post(totp.action, "/login/totp", { code: await totpCode(secret) });
}

describe("identifier step", () => {
  it("answers known and unknown identifiers with the same password page", async () => {
    const { user } = await createUser();
    const b = new Browser();
    const known = await b.post(login.action, "/login?index", { intent: "identifier", identifier: user.email! });
    const unknown = await b.post(login.action, "/login?index", { intent: "identifier", identifier: "nobody@example.test" });
    expect(known.status).toBe(200);
    expect(known.data.step).toBe("password");
    expect(unknown.data.step).toBe("password");
    expect(Object.keys(known.data).sort()).toEqual(Object.keys(unknown.data).sort());
  });

  it.each([
    ["empty", "", "Enter your email address or mobile number."],
    ["spaces only", "   ", "Enter your email address or mobile number."],
    ["too long", "a".repeat(10_000) + "@x.test", "too long"],
    ["not an email or number", "<script>alert(1)</script>", "valid email address"],
    ["SQL", "' OR 1=1 --", "valid email address"],
    ["letters as a number", "+44 not a number", "valid email address"],
    ["unicode nonsense", "😀😀😀", "valid email address"],
  ])("rejects %s with a clear message and keeps the input", async (_label, identifier, message) => {
    const b = new Browser();
    const r = await b.post(login.action, "/login?index", { intent: "identifier", identifier });
    expect(r.status).toBe(400);
    expect(r.data.step).toBe("identifier");
    expect(r.data.errors.identifier).toContain(message);
    expect(r.data.identifier.length).toBeLessThanOrEqual(254);
  });

  it("rejects a field sent twice", async () => {
    const b = new Browser();
    const form = new URLSearchParams([
      ["intent", "identifier"],
      ["identifier", "a@b.test"],
      ["identifier", "c@d.test"],
    ]);
    const r = await b.post(login.action, "/login?index", form);
    expect(r.status).toBe(400);
    expect(r.data.errors.identifier).toMatch(/more than once/);
  });

  it("accepts a mobile number in local or international formats", async () => {
    const { user, secret } = await createUser({ phone: "+14155552671" });
    for (const typed of ["(415) 555-2671", "+1 415 555 2671", "001 415-555-2671", "+1.415.555.2671"]) {
      const b = new Browser();
      const r = await passwordStep(b, typed);
      expect(r.location, typed).toBe("/login/totp");
      await db.signInAttempt.deleteMany();
    }
    expect(user.phone).toBe("+14155552671");
    expect(secret).toBeTruthy();
  });
});

describe("password step", () => {
  it("gives the same generic error for a wrong password and an unknown account", async () => {
    const { user } = await createUser();
    const b = new Browser();
    const wrong = await passwordStep(b, user.email!, "wrong password");
    const unknown = await passwordStep(b, "nobody@example.test", "wrong password");
    expect(wrong.status).toBe(400);
    expect(wrong.data.formError).toBe(unknown.data.formError);
    expect(wrong.data.formError).toMatch(/don't match/);
    expect(b.cookies.size).toBe(0);
    expect(await db.session.count()).toBe(0);
  });

  it("rejects an oversized password without hashing it and changes nothing", async () => {
    const { user } = await createUser();
    const b = new Browser();
    const r = await passwordStep(b, user.email!, "x".repeat(10_000));
    expect(r.status).toBe(400);
    expect(r.data.errors.password).toMatch(/at most 256/);
    expect(await db.session.count()).toBe(0);
    expect(await db.signInAttempt.count()).toBe(0);
  });

  it("does not treat a user without a password or a disabled user as signable", async () => {
    const { user: noPassword } = await createUser({ password: null });
    const { user: disabled } = await createUser();
    await db.user.update({ where: { id: disabled.id }, data: { status: "disabled" } });
    for (const u of [noPassword, disabled]) {
      const r = await passwordStep(new Browser(), u.email!, PASSWORD);
      expect(r.status).toBe(400);
    }
    expect(await db.session.count()).toBe(0);
  });

  it("creates a pending session whose cookie holds only a random id", async () => {
    const { user } = await createUser();
    const b = new Browser();
    await passwordStep(b, user.email!);
    const raw = decodeURIComponent(b.cookies.get("__session")!);
    const session = await db.session.findFirstOrThrow();
    expect(session.stage).toBe("pending_totp");
    expect(raw).not.toContain(user.id);
    // Stored hashed: the cookie value itself is not the primary key.
    expect(session.id).not.toBe(raw);
    expect(session.id).toMatch(/^[0-9a-f]{64}$/);
  });

  it("rehashes a password hashed with older parameters", async () => {
    const argon2 = (await import("argon2")).default;
    const { user } = await createUser();
    const weak = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await db.user.update({ where: { id: user.id }, data: { passwordHash: weak } });
    const r = await passwordStep(new Browser(), user.email!);
    expect(r.location).toBe("/login/totp");
    const after = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(after.passwordHash).not.toBe(weak);
    expect(after.passwordHash).toMatch(/m=19456,(t=2,p=1|p=1,t=2)/);
  });

  it("keeps a safe redirectTo and drops one that leaves the site", async () => {
    const { user } = await createUser();
    const good = await new Browser().post(login.action, "/login?index", {
      intent: "password",
      identifier: user.email!,
      password: PASSWORD,
      redirectTo: "/settings/sessions",
    });
    expect(good.location).toBe("/login/totp?redirectTo=%2Fsettings%2Fsessions");
    for (const evil of ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)"]) {
      const r = await new Browser().post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD, redirectTo: evil });
      expect(r.location, evil).toBe("/login/totp");
    }
  });
});

describe("TOTP step", () => {
  it("signs in with a valid code and issues a new session id", async () => {
    const { user, secret } = await createUser();
    const b = new Browser();
    await passwordStep(b, user.email!);
    const pendingCookie = b.cookies.get("__session");
    const r = await b.post(totp.action, "/login/totp", { code: await totpCode(secret) });
    expect(r.status).toBe(302);
    expect(r.location).toBe("/");
    expect(b.cookies.get("__session")).not.toBe(pendingCookie);
    const sessions = await db.session.findMany();
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.stage).toBe("active");
    expect(sessions[0]!.authMethod).toBe("password_totp");
    const page = await b.get(home.loader, "/");
    expect(page.data.name).toBe(user.name);
  });

  it("turns the pending row into the new session: nothing of it stays under the old id", async () => {
    const { user, secret } = await createUser();
    const b = new Browser();
    await passwordStep(b, user.email!);
    const pending = await db.session.findFirstOrThrow();
    await b.post(totp.action, "/login/totp", { code: await totpCode(secret) });
    expect(await db.session.findUnique({ where: { id: pending.id } })).toBeNull();
    const active = await db.session.findFirstOrThrow();
    expect(active.id).not.toBe(pending.id);
    expect(active.authenticatedAt).not.toBeNull();
    expect(active.createdAt.getTime()).toBeGreaterThanOrEqual(pending.createdAt.getTime());
    expect(active.expiresAt.getTime()).toBeGreaterThan(pending.expiresAt.getTime());
  });

  it("starts a fresh session when the cookie names a row that is gone", async () => {
    const { user } = await createUser();
    const b = new Browser();
    await passwordStep(b, user.email!);
    await passwordStep(b, user.email!);
    expect(await db.session.count()).toBe(1);
    await db.session.deleteMany();
    expect((await passwordStep(b, user.email!)).location).toBe("/login/totp");
    expect(await db.session.count()).toBe(1);
  });

  it("never accepts the same code twice", async () => {
    const { user, secret } = await createUser();
    const code = await totpCode(secret);
    const first = new Browser();
    await passwordStep(first, user.email!);
    expect((await first.post(totp.action, "/login/totp", { code })).location).toBe("/");
    const second = new Browser();
    await passwordStep(second, user.email!);
    const replay = await second.post(totp.action, "/login/totp", { code });
    expect(replay.status).toBe(400);
    expect(replay.data.formError).toMatch(/isn't valid/);
  });

  it("accepts the previous step's code but not one from two steps ago", async () => {
    const { user, secret } = await createUser();
    const b = new Browser();
    await passwordStep(b, user.email!);
    expect((await b.post(totp.action, "/login/totp", { code: await totpCode(secret, -3) })).status).toBe(400);
    expect((await b.post(totp.action, "/login/totp", { code: await totpCode(secret, -1) })).location).toBe("/");
  });

  it.each([
    ["empty", ""],
    ["letters", "abcdef"],
    ["too long", "1".repeat(10_000)],
    ["html", "<b>123456</b>"],
  ])("rejects a %s code", async (_l, code) => {
    const { user } = await createUser();
    const b = new Browser();
    await passwordStep(b, user.email!);
    const r = await b.post(totp.action, "/login/totp", { code });
    expect(r.status).toBe(400);
    expect(await db.session.count({ where: { stage: "active" } })).toBe(0);
  });

  it("accepts a recovery code once", async () => {
    const { regenerateRecoveryCodes } = await import("~/lib/recovery-codes.server.ts");
    const { user } = await createUser();
    const [code] = await regenerateRecoveryCodes(user.id);
    const b = new Browser();
    await passwordStep(b, user.email!);
    expect((await b.post(totp.action, "/login/totp", { code: code!.toUpperCase() })).location).toBe("/");
    expect((await db.session.findFirstOrThrow({ where: { stage: "active" } })).authMethod).toBe("password_recovery_code");
    const again = new Browser();
    await passwordStep(again, user.email!);
    expect((await again.post(totp.action, "/login/totp", { code: code! })).status).toBe(400);
  });

  it("sends a visitor without a pending session back to the start", async () => {
    const r = await new Browser().post(totp.action, "/login/totp", { code: "123456" });
    expect(r.location).toBe("/login");
  });

  it("refuses a tampered session cookie", async () => {
    const { user } = await createUser();
    const b = new Browser();
    await passwordStep(b, user.email!);
    const value = b.cookies.get("__session")!;
    b.cookies.set("__session", value.slice(0, -3) + (value.endsWith("AAA") ? "BBB" : "AAA"));
    expect((await b.get(totp.loader, "/login/totp")).location).toBe("/login");
    b.cookies.set("__session", "not-even-signed");
    expect((await b.get(totp.loader, "/login/totp")).location).toBe("/login");
  });
});

describe("first sign-in enrolment", () => {
  it("enrols TOTP, shows 10 recovery codes once and stores them hashed", async () => {
    const { user } = await createUser({ totp: false });
    const b = new Browser();
    const step = await passwordStep(b, user.email!);
    expect(step.location).toBe("/login/enrol");
    const page = await b.get(enrol.loader, "/login/enrol");
    const secret = new URL(page.data.setup.uri).searchParams.get("secret")!;
    expect(page.data.setup.secretGroups.replace(/ /g, "")).toBe(secret);
    expect(page.data.setup.qrSvg).toContain("<svg");

    const wrong = await b.post(enrol.action, "/login/enrol", { code: "000000" });
    expect(wrong.status).toBe(400);

    const done = await b.post(enrol.action, "/login/enrol", { code: await totpCode(secret) });
    expect(done.status).toBe(200);
    expect(done.data.codes).toHaveLength(10);
    const stored = await db.recoveryCode.findMany({ where: { userId: user.id } });
    expect(stored).toHaveLength(10);
    expect(stored.map((s) => s.codeHash)).toContain(sha256(done.data.codes[0].replace("-", "")));
    expect(stored.some((s) => done.data.codes.includes(s.codeHash))).toBe(false);
    const after = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(after.totpEnrolledAt).not.toBeNull();
    expect(after.totpSecret).not.toContain(secret);
    expect(await db.session.count({ where: { userId: user.id, totpPendingSecret: { not: null } } })).toBe(0);
    // The page still renders after the action (the loader sees the old cookie) instead of redirecting.
    const revalidated = await b.get(enrol.loader, "/login/enrol");
    expect(revalidated.status).toBe(200);
  });
});

describe("throttling", () => {
  it("delays an account after repeated failures and tells when to try again", async () => {
    const { user } = await createUser();
    const b = new Browser();
    let last;
    for (let i = 0; i < 6; i++) last = await passwordStep(b, user.email!, "wrong password");
    expect(last!.data.formError).toMatch(/try again at \d\d:\d\d:\d\d UTC/);
    // Even the right password waits.
    const right = await passwordStep(b, user.email!);
    expect(right.status).toBe(400);
    expect(right.data.formError).toMatch(/Too many failed attempts/);
  });

  it("forgets the account's failures once a sign-in completes, but not the address's", async () => {
    const { user, secret } = await createUser();
    const b = new Browser("198.51.100.11");
    for (let i = 0; i < 2; i++) await passwordStep(b, user.email!, "wrong password");
    const attempts = async (key: string) => (await db.signInAttempt.findUniqueOrThrow({ where: { key } })).attempts;
    expect(await attempts(`account:${user.id}`)).toBe(2);
    expect((await signIn(b, user.email!, secret)).location).toBe("/");
    expect(await attempts(`account:${user.id}`)).toBe(0);
    expect(await attempts(`pair:${user.id}|198.51.100.11`)).toBe(0);
    // The two successful steps took their attempts back; the two failures stay with the address.
    expect(await attempts("address:198.51.100.11")).toBe(2);
  });

  it("locks the password after 100 consecutive failures until a reset", async () => {
    const { user } = await createUser();
    await db.signInAttempt.create({ data: { key: `account:${user.id}`, attempts: 99, windowStartMs: 0, lastAttemptMs: 0 } });
    const r = await passwordStep(new Browser(), user.email!, "wrong password");
    expect(r.data.formError).toMatch(/locked/);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordLockedAt).not.toBeNull();
    await db.signInAttempt.deleteMany();
    const right = await passwordStep(new Browser(), user.email!);
    expect(right.data.formError).toMatch(/locked/);
  });
});

describe("sign out", () => {
  it("ends the session in the database and clears the cookie", async () => {
    const { user, secret } = await createUser();
    const b = new Browser();
    await signIn(b, user.email!, secret);
    const r = await b.post(logout.action, "/logout", {});
    expect(r.location).toBe("/login");
    expect(await db.session.count()).toBe(0);
    expect(b.cookies.has("__session")).toBe(false);
    expect((await b.get(home.loader, "/")).location).toBe("/login");
  });
});
