// Failed attempts counted from many requests at once (several instances, or one busy one) all count.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { accountKey, addressKey, recordFailure, throttleState } from "~/lib/throttle.server.ts";

describe("recordFailure", () => {
  it("counts every one of many concurrent failures", async () => {
    const account = accountKey("someone");
    await Promise.all(Array.from({ length: 25 }, (_, i) => recordFailure(account, addressKey(`198.51.100.${i % 5}`))));
    expect((await throttleState(account, addressKey("198.51.100.0"))).accountFailures).toBe(25);
    const addresses = await db.signInThrottle.findMany({ where: { key: { startsWith: "address:" } } });
    expect(addresses.map((a) => a.failures)).toEqual([5, 5, 5, 5, 5]);
  });

  it("never shortens a wait already set", async () => {
    const account = accountKey("someone-else");
    for (let i = 0; i < 8; i++) await recordFailure(account, addressKey("198.51.100.9"));
    const long = (await db.signInThrottle.findUniqueOrThrow({ where: { key: account } })).blockedUntil!;
    await db.signInThrottle.update({ where: { key: account }, data: { failures: 0 } });
    await recordFailure(account, addressKey("198.51.100.9"));
    expect((await db.signInThrottle.findUniqueOrThrow({ where: { key: account } })).blockedUntil).toEqual(long);
  });

  it("forgets an address that has been quiet for an hour", async () => {
    const address = addressKey("198.51.100.77");
    for (let i = 0; i < 3; i++) await recordFailure(accountKey(`a${i}`), address);
    await db.signInThrottle.update({ where: { key: address }, data: { lastFailureAt: new Date(Date.now() - 2 * 3600_000) } });
    await recordFailure(accountKey("a9"), address);
    expect((await db.signInThrottle.findUniqueOrThrow({ where: { key: address } })).failures).toBe(1);
  });
});
