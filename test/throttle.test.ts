// The attempt counter itself: every concurrent attempt counts, a wait refuses without counting, a success
// takes its attempt back, an address's window ends.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { attemptKeys, countAttempt, delayAfter, forgetAccount, settleAttempt, type Counted } from "~/lib/throttle.server.ts";

const attempts = async (key: string) => (await db.signInAttempt.findUnique({ where: { key } }))?.attempts ?? 0;

describe("countAttempt", () => {
  it("waits 0 for the free attempts, then 1 s doubling up to 15 minutes", () => {
    expect([4, 5, 6, 7, 14, 15, 40].map((n) => delayAfter(n, 5))).toEqual([0, 1000, 2000, 4000, 512_000, 900_000, 900_000]);
  });

  it("counts each of many concurrent attempts from many addresses once", async () => {
    const keys = Array.from({ length: 15 }, (_, i) => attemptKeys("someone", `198.51.100.${i % 5}`));
    const results = await Promise.all(keys.map((k) => countAttempt(k)));
    expect(results.every((r) => r.kind === "counted")).toBe(true);
    expect(await attempts("account:someone")).toBe(15);
    for (let i = 0; i < 5; i++) expect(await attempts(`address:198.51.100.${i}`)).toBe(3);
  });

  it("refuses without counting while a key waits, and says until when", async () => {
    const keys = attemptKeys("waiting", "198.51.100.20");
    const now = new Date();
    for (let i = 0; i < 5; i++) expect((await countAttempt(keys, now)).kind).toBe("counted");
    const refused = await countAttempt(keys, now);
    expect(refused).toEqual({ kind: "blocked", until: new Date(now.getTime() + 1000) });
    expect(await attempts(keys.pair)).toBe(5);
    // The keys counted before the pair refused take the attempt back.
    expect(await attempts(keys.account)).toBe(5);
    expect(await attempts(keys.address)).toBe(5);
    expect((await countAttempt(keys, new Date(now.getTime() + 1000))).kind).toBe("counted");
  });

  it("a first step that passes lifts the wait it set; a sign-in starts the account from zero but not the address", async () => {
    const keys = attemptKeys("passing", "198.51.100.21");
    const now = new Date();
    for (let i = 0; i < 4; i++) await countAttempt(keys, now);
    const fifth = (await countAttempt(keys, now)) as Counted;
    expect(fifth.nextAllowed).toEqual(new Date(now.getTime() + 1000));
    await settleAttempt(fifth, false);
    const code = (await countAttempt(keys, now)) as Counted;
    expect(code.kind).toBe("counted");
    await settleAttempt(code, true);
    expect([await attempts(keys.pair), await attempts(keys.account), await attempts(keys.address)]).toEqual([0, 0, 4]);
  });

  it("refuses an address after 100 attempts in 15 minutes and starts a new window afterwards", async () => {
    const now = new Date();
    const address = (i: number) => attemptKeys(`unknown:${i}`, "198.51.100.22");
    for (let i = 0; i < 100; i++) expect((await countAttempt(address(i), now)).kind).toBe("counted");
    expect(await countAttempt(address(100), now)).toEqual({ kind: "blocked", until: new Date(now.getTime() + 15 * 60_000) });
    expect(await attempts("account:unknown:100")).toBe(0);
    expect((await countAttempt(address(101), new Date(now.getTime() + 15 * 60_000))).kind).toBe("counted");
    expect(await attempts("address:198.51.100.22")).toBe(1);
  });

  it("says locked at 100 of the account's attempts, and a reset forgets them from every address", async () => {
    const now = new Date();
    for (let i = 0; i < 100; i++) await countAttempt(attemptKeys("locked", `10.3.${i >> 8}.${i & 255}`), new Date(now.getTime() + i * 900_000));
    expect(await attempts("account:locked")).toBe(100);
    expect(await countAttempt(attemptKeys("locked", "10.9.9.9"), new Date(now.getTime() + 10 ** 9))).toEqual({ kind: "locked" });
    await forgetAccount("locked");
    expect(await db.signInAttempt.count({ where: { OR: [{ key: "account:locked" }, { key: { startsWith: "pair:locked|" } }] } })).toBe(0);
    expect(await attempts("address:10.3.0.0")).toBe(1);
  });
});

describe("13.9 counters under retention", () => {
  it("13.9 retention deletes counters that hold nothing and keeps a known account's failures", async () => {
    const { runRetention } = await import("~/lib/retention.server.ts");
    const day = 24 * 3600_000;
    const now = Date.now();
    const row = (key: string, attempts: number, lastAttemptMs: number, windowStartMs = lastAttemptMs, nextAllowedMs = 0) => ({
      key,
      attempts,
      lastAttemptMs,
      windowStartMs,
      nextAllowedMs,
    });
    await db.signInAttempt.createMany({
      data: [
        row("address:old-window", 40, now - 16 * 60_000),
        row("address:this-window", 40, now - 60_000),
        row("account:settled", 0, now - 2 * day),
        row("account:settled-today", 0, now - 60_000),
        row("account:failing", 7, now - 300 * day),
        row("pair:quiet|10.0.0.1", 3, now - 2 * day),
        row("pair:still-waiting|10.0.0.1", 30, now - 2 * day, now - 2 * day, now + 60_000),
        row("account:unknown:abc", 3, now - 2 * day),
      ],
    });
    const result = await runRetention();
    expect(result.attemptCounters).toBe(4);
    const left = (await db.signInAttempt.findMany({ select: { key: true } })).map((r) => r.key).sort();
    expect(left).toEqual(["account:failing", "account:settled-today", "address:this-window", "pair:still-waiting|10.0.0.1"]);
  });
});
