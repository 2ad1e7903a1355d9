// Issue 13, finding 6: forgot-password's per-account work happens after the answer, never during it. The timing
// itself is shown by bench/forgot.ts; this checks the order of things, which does not depend on the machine's speed.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { answering } from "~/lib/after-answer.server.ts";
import { handlePasswordResetRequests, recordPasswordResetRequest } from "~/lib/password-reset.server.ts";
import { ADDRESS, createUser } from "./helpers.ts";

async function released(identifier: string) {
  for (let i = 0; i < 200; i++) {
    const row = await db.passwordResetRequest.findUnique({ where: { identifier } });
    if (row && row.nextAttemptAt.getTime() <= Date.now()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`The request for ${identifier} was never released.`);
}

describe("13.6 forgot password: the per-account work waits for the answer", () => {
  it("13.6 a worker run during the answer does not do that request's per-account work", async () => {
    const { user } = await createUser();
    await answering(async () => {
      await recordPasswordResetRequest(user.email!, ADDRESS);
      // A run already under way for someone else's request (the server's worker) sees nothing due yet.
      expect(await handlePasswordResetRequests()).toEqual({ handled: 0, failed: 0 });
      expect(await db.oneTimeToken.count()).toBe(0);
    });
    await released(user.email!);
    expect(await handlePasswordResetRequests()).toEqual({ handled: 1, failed: 0 });
    expect(await db.oneTimeToken.count({ where: { type: "password_reset", target: user.id } })).toBe(1);
    expect(await db.passwordResetRequest.count()).toBe(0);
  });

  it("13.6 a request whose answer never finished (the process stopped) is handled a lease later, not lost", async () => {
    const { user } = await createUser();
    await answering(async () => {
      await recordPasswordResetRequest(user.email!, ADDRESS);
      expect(await handlePasswordResetRequests(new Date(Date.now() + 61_000))).toEqual({ handled: 1, failed: 0 });
    });
    expect(await db.oneTimeToken.count({ where: { type: "password_reset", target: user.id } })).toBe(1);
  });

  it("13.6 a repeat while the first waits adds nothing and releases nothing of its own", async () => {
    const { user } = await createUser();
    await answering(() => recordPasswordResetRequest(user.email!, ADDRESS));
    await released(user.email!);
    const first = await db.passwordResetRequest.findUniqueOrThrow({ where: { identifier: user.email! } });
    await recordPasswordResetRequest(user.email!, ADDRESS);
    expect(await db.passwordResetRequest.findMany()).toEqual([first]);
    expect(await handlePasswordResetRequests()).toEqual({ handled: 1, failed: 0 });
  });
});
