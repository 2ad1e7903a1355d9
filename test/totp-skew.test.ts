// Issue 13, finding 11: a stored last step ahead of the clock (the server's clock went back, or a restored
// backup) made otplib throw, and the code page answered 500. It is an invalid code: the page says so and
// nothing changes.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { checkTotp } from "~/lib/totp.server.ts";
import * as login from "~/routes/login._index.tsx";
import * as totp from "~/routes/login.totp.tsx";
import { Browser, createUser, PASSWORD, totpCode } from "./helpers.ts";

const nowStep = () => Math.floor(Date.now() / 1000 / 30);

describe("13.11 clock skew", () => {
  it("13.11 clock skew: checkTotp with a last step ahead of now answers 'not valid', it does not throw", async () => {
    const { secret } = await createUser();
    for (const ahead of [2, 3, 100, 10_000_000]) {
      await expect(checkTotp(secret, await totpCode(secret), nowStep() + ahead)).resolves.toBeNull();
    }
  });

  it("13.11 clock skew: the code page says the code is not valid (no 500) and the stored step stays", async () => {
    const { user, secret } = await createUser();
    const ahead = nowStep() + 120;
    await db.user.update({ where: { id: user.id }, data: { totpLastStep: ahead } });
    const b = new Browser();
    const step = await b.post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD });
    expect(step.location).toBe("/login/totp");
    const r = await b.post(totp.action, "/login/totp", { code: await totpCode(secret) });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.data)).toContain("That code isn't valid");
    const after = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(after.totpLastStep).toBe(ahead);
    expect(await db.session.count({ where: { userId: user.id, stage: "active" } })).toBe(0);
  });
});
