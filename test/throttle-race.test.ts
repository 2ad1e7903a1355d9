// Issue 13.9: an attempt is counted before it is checked, so parallel guesses cannot all be evaluated before
// the first failure is written; and one office behind one address is not slowed by its own sign-ins.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { hashPassword } from "~/lib/passwords.server.ts";
import { newTotpSecret, sealTotpSecret } from "~/lib/totp.server.ts";
import { checkPasswordStep, checkSecondFactor } from "~/lib/signin/steps.server.ts";
import * as login from "~/routes/login._index.tsx";
import * as totp from "~/routes/login.totp.tsx";
import { Browser, createOrg, createUser, PASSWORD, totpCode } from "./helpers.ts";

const wrongCode = (i: number) => String(100000 + ((i * 7919) % 900000)).padStart(6, "0");

async function signIn(b: Browser, identifier: string, secret: string, password = PASSWORD) {
  const step = await b.post(login.action, "/login?index", { intent: "password", identifier, password });
  if (step.location !== "/login/totp") return step;
  return b.post(totp.action, "/login/totp", { code: await totpCode(secret) });
}

describe("13.9 throttle race", () => {
  it("13.9 throttle race: of 400 concurrent wrong codes for one account from one address, at most 5 are checked", async () => {
    const { user } = await createUser();
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => checkSecondFactor(user, wrongCode(i), "198.51.100.40")));
    const checked = results.filter((r) => r.kind === "invalid").length;
    expect(checked).toBeGreaterThanOrEqual(1);
    expect(checked).toBeLessThanOrEqual(5);
    expect(results.every((r) => r.kind === "invalid" || r.kind === "blocked")).toBe(true);
  });

  it("13.9 throttle race: 400 concurrent wrong codes from 400 addresses check at most 20 (the account's allowance)", async () => {
    const { user } = await createUser();
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => checkSecondFactor(user, wrongCode(i), `10.1.${i >> 8}.${i & 255}`)));
    const checked = results.filter((r) => r.kind === "invalid").length;
    expect(checked).toBeGreaterThanOrEqual(1);
    expect(checked).toBeLessThanOrEqual(20);
  });

  it("13.9 throttle race: 40 concurrent wrong passwords check at most 5, and the right one afterwards still waits", async () => {
    const { user } = await createUser();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => checkPasswordStep(user.email!, `wrong ${i}`, "198.51.100.41")));
    expect(results.filter((r) => r.kind === "invalid").length).toBeLessThanOrEqual(5);
    expect((await checkPasswordStep(user.email!, PASSWORD, "198.51.100.41")).kind).toBe("blocked");
  });

  it("13.9 throttle race: refused attempts are not counted, so hammering a wait neither lengthens it nor locks the password", async () => {
    const { user } = await createUser();
    const address = "198.51.100.42";
    for (let i = 0; i < 4; i++) expect((await checkSecondFactor(user, wrongCode(i), address)).kind).toBe("invalid");
    // The fifth failure is answered with the wait it starts.
    const first = await checkSecondFactor(user, wrongCode(9), address);
    expect(first.kind).toBe("blocked");
    const until = first.kind === "blocked" ? first.until.getTime() : 0;
    for (let i = 0; i < 150; i++) {
      const again = await checkSecondFactor(user, wrongCode(i), address);
      expect(again.kind).toBe("blocked");
      expect(again.kind === "blocked" && again.until.getTime()).toBe(until);
    }
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordLockedAt).toBeNull();
  });

  it("13.9 throttle race: a right password after four typos lets the code through at once", async () => {
    const { user, secret } = await createUser();
    const b = new Browser("198.51.100.43");
    for (let i = 0; i < 4; i++) await b.post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: "typo" });
    expect((await signIn(b, user.email!, secret)).location).toBe("/");
  });

  it("13.9 office: 200 users signing in from one address, 30 of them after a typo, see no delay", async () => {
    const org = await createOrg("Office");
    const passwordHash = await hashPassword(PASSWORD);
    const people = Array.from({ length: 200 }, (_, i) => ({ id: `office-${org.id}-${i}`, email: `office${i}@example.test`, secret: newTotpSecret() }));
    await db.user.createMany({
      data: people.map((p, i) => ({
        id: p.id,
        orgId: org.id,
        email: p.email,
        name: `Person ${i}`,
        role: "member",
        passwordHash,
        totpSecret: sealTotpSecret(p.secret, { kind: "user", userId: p.id }),
        totpEnrolledAt: new Date(),
      })),
    });
    const answers: (string | null)[] = [];
    // Ten at a time, as a morning rush does.
    for (let start = 0; start < people.length; start += 10) {
      await Promise.all(
        people.slice(start, start + 10).map(async (p, j) => {
          const b = new Browser("203.0.113.200");
          if ((start + j) % 7 === 0) {
            const typo = await b.post(login.action, "/login?index", { intent: "password", identifier: p.email, password: "correct horse batery" });
            expect(typo.data.formError).toMatch(/don't match/);
          }
          const r = await signIn(b, p.email, p.secret);
          answers.push(r.location ?? r.data?.formError ?? "?");
        }),
      );
    }
    expect(answers.filter((a) => a !== "/")).toEqual([]);
  }, 120_000);

  it("13.9 spraying: one address trying many accounts is stopped after 100 failures in 15 minutes, others are not", async () => {
    const sprayer = new Browser("198.51.100.44");
    let last;
    for (let i = 0; i < 101; i++)
      last = await sprayer.post(login.action, "/login?index", { intent: "password", identifier: `nobody${i}@example.test`, password: "Winter2026!" });
    expect(last!.data.formError).toMatch(/Too many failed attempts/);
    const { user, secret } = await createUser();
    expect((await signIn(new Browser("198.51.100.45"), user.email!, secret)).location).toBe("/");
  }, 60_000);

  it("13.9 one account from many addresses: 20 failures are free, then the account waits everywhere", async () => {
    const { user, secret } = await createUser();
    for (let i = 0; i < 20; i++) {
      const r = await new Browser(`10.2.0.${i}`).post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: "guess" });
      // The twentieth failure is answered with the wait it starts.
      expect(r.data.formError, `attempt ${i + 1}`).toMatch(i < 19 ? /don't match/ : /Too many failed attempts/);
    }
    const next = await signIn(new Browser("10.2.1.1"), user.email!, secret);
    expect(next.data.formError).toMatch(/Too many failed attempts/);
  });
});
