// Thousands of hostile inputs against every form action: never a crash (a 500), never a change in the
// database, always an answer a person can read.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import * as login from "~/routes/login._index.tsx";
import * as totp from "~/routes/login.totp.tsx";
import * as enrol from "~/routes/login.enrol.tsx";
import * as forgot from "~/routes/forgot-password.tsx";
import * as reset from "~/routes/reset-password.tsx";
import * as password from "~/routes/settings.password.tsx";
import * as twoFactor from "~/routes/settings.two-factor.tsx";
import * as recovery from "~/routes/settings.recovery-codes.tsx";
import * as sessions from "~/routes/settings.sessions.tsx";
import * as microsoft from "~/routes/settings.microsoft.tsx";
import * as linkPrompt from "~/routes/link-microsoft.tsx";
import * as integrations from "~/routes/admin.integrations._index.tsx";
import * as sso from "~/routes/admin.sso.tsx";
import * as userPage from "~/routes/admin.users_.$id.tsx";
import * as invitations from "~/routes/admin.invitations.tsx";
import * as invite from "~/routes/invite.tsx";
import { Browser, createUser, PASSWORD, totpCode } from "./helpers.ts";

// A small deterministic generator, so a failure can be replayed.
function rng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

const nasty = [
  "",
  " ",
  "\u0000",
  "' OR '1'='1",
  '"; DROP TABLE "User"; --',
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "javascript:alert(1)",
  "//evil.example",
  "../../../../etc/passwd",
  "%00%0d%0aSet-Cookie: x=y",
  "\r\nLocation: https://evil.example",
  "𝕬𝖉𝖆 🧪 ‮reversed",
  "ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ",
  "x".repeat(10_000),
  "9".repeat(300),
  "NaN",
  "-1",
  "1e309",
  "[object Object]",
  '{"$gt":""}',
  "admin@demo.test\u0000",
  "+1 (415) 555-2671 ext. 9999999999",
];

function randomValue(next: () => number): string {
  const r = next();
  if (r < 0.5) return nasty[Math.floor(next() * nasty.length)]!;
  const length = Math.floor(next() * (r < 0.9 ? 40 : 5000));
  return Array.from({ length }, () => String.fromCodePoint(Math.floor(next() * (next() < 0.8 ? 0x7f : 0x2ffff))))
    .join("")
    .replace(/[\uD800-\uDFFF]/g, "?");
}

const fieldNames = [
  "intent",
  "identifier",
  "password",
  "code",
  "redirectTo",
  "token",
  "newPassword",
  "confirmPassword",
  "currentPassword",
  "currentCode",
  "newCode",
  "handle",
  "tenant",
  "enabled",
  "userId",
  "sendLink",
  "sendLinks",
  "username",
  "confirmed",
  "lockoutConfirmed",
  "show",
  "email",
  "name",
  "role",
];
// "never" and "send-set-password" are left out: with no other field they are complete, valid requests.
const intents = [
  "identifier",
  "password",
  "end",
  "end-others",
  "link",
  "later",
  "unlink",
  "reauth",
  "add",
  "sso",
  "revoke",
  "check",
  "consent",
  "remove",
  "org",
  "all",
  "invite",
  "resend",
  "password",
  "microsoft",
];

function randomForm(next: () => number): FormData {
  const form = new FormData();
  const count = Math.floor(next() * 6);
  for (let i = 0; i < count; i++) {
    const name = next() < 0.9 ? fieldNames[Math.floor(next() * fieldNames.length)]! : randomValue(next).slice(0, 30);
    const value = name === "intent" && next() < 0.7 ? intents[Math.floor(next() * intents.length)]! : randomValue(next);
    // Now and then a file where text is expected, or the same field twice.
    if (next() < 0.05) form.append(name, new Blob(["binary\u0000"]), "x.bin");
    else form.append(name, value);
    if (next() < 0.1) form.append(name, value);
  }
  return form;
}

async function snapshot() {
  const [users, sessionRows, tokens, links, integrationRows, codes, orgs] = await Promise.all([
    db.user.findMany({ orderBy: { id: "asc" }, select: { id: true, passwordHash: true, totpSecret: true, linkPrompt: true, email: true, ssoEnabled: true } }),
    db.session.findMany({ orderBy: { id: "asc" }, select: { id: true, stage: true, authenticatedAt: true } }),
    db.oneTimeToken.count(),
    db.microsoftLink.count(),
    db.integration.count(),
    db.recoveryCode.count(),
    db.organization.findMany({ select: { ssoEnabled: true, ssoForAllSynced: true } }),
  ]);
  return JSON.stringify({ users, sessionRows, tokens, links, integrationRows, codes, orgs });
}

type Action = (args: never) => unknown;

async function fuzz(name: string, action: Action, browser: Browser, rounds: number, seed: number, params: Record<string, string> = {}) {
  const next = rng(seed);
  const before = await snapshot();
  for (let i = 0; i < rounds; i++) {
    const form = randomForm(next);
    const request = browser.request(`/${name}`, { form });
    const result = await browser.run(action as never, request, params);
    expect(result.status, `${name} #${i}`).toBeLessThan(500);
    if (result.status >= 400 && result.status !== 404 && result.status !== 403 && result.status !== 429 && result.status !== 503) {
      // A refusal says something a person can read.
      expect(JSON.stringify(result.data), `${name} #${i}`).toMatch(/[A-Za-z]{3,}/);
    }
  }
  expect(await snapshot(), name).toBe(before);
}

describe("hostile input", () => {
  it("anonymous forms", async () => {
    await createUser({ email: "ada@example.test" });
    const b = new Browser("192.0.2.50");
    await fuzz("login", login.action, b, 400, 1);
    await fuzz("login/totp", totp.action, b, 150, 2);
    await fuzz("login/enrol", enrol.action, b, 150, 3);
    await fuzz("reset-password", reset.action, b, 300, 5);
    // forgot-password may send mail for a valid identifier; none of the generated ones is an account.
    await fuzz("forgot-password", forgot.action, b, 300, 4);
    await fuzz("invite", invite.action, b, 200, 6);
  });

  it("signed-in forms", async () => {
    const { user, secret } = await createUser({ role: "admin" });
    await db.organization.update({ where: { id: user.orgId }, data: { ssoLicensed: true } });
    const b = new Browser("192.0.2.51");
    await b.post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD });
    expect((await b.post(totp.action, "/login/totp", { code: await totpCode(secret) })).location).toBe("/");
    // Visit pages that create state on GET first, so the snapshot includes it.
    await b.get(twoFactor.loader as never, "/settings/two-factor");
    for (const [name, action, seed] of [
      ["settings/password", password.action, 11],
      ["settings/two-factor", twoFactor.action, 12],
      ["settings/recovery-codes", recovery.action, 13],
      ["settings/sessions", sessions.action, 14],
      ["settings/microsoft", microsoft.action, 15],
      ["link-microsoft", linkPrompt.action, 16],
      ["admin/integrations", integrations.action, 17],
      ["admin/sso", sso.action, 19],
      [`admin/users/${user.id}`, userPage.action, 20],
      ["admin/invitations", invitations.action, 21],
    ] as const) {
      await fuzz(name, action as Action, b, 200, seed, { id: user.id });
      await db.signInAttempt.deleteMany();
    }
  }, 120_000);
});
