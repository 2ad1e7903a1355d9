// methodWhere (the sign-in method as a SQL condition derived from the rule) against the rule itself, on the
// real database: random org states and users, and for each method the rows the condition selects must be
// exactly the users for whom strategyIn answers that method.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { loadOrgState, methodWhere, strategyIn, strategyUserSelect, type SignInMethod } from "~/lib/signin/methods.server.ts";
import { whereSql } from "~/lib/where-sql.server.ts";
import { createOrg } from "./helpers.ts";

const METHODS: SignInMethod[] = ["microsoft", "password", "none"];
const STATUSES = ["active", "removed", "failed", "pending_consent"] as const;

const orgArb = fc.record({
  ssoLicensed: fc.boolean(),
  ssoEnabled: fc.boolean(),
  ssoForAllSynced: fc.boolean(),
  integrations: fc.array(fc.constantFrom(...STATUSES), { maxLength: 3 }),
  // An index into the integrations (modulo their number), or none.
  sync: fc.option(fc.nat(), { nil: null }),
});

const userArb = fc.record({
  source: fc.constantFrom("local", "synced"),
  ssoEnabled: fc.boolean(),
  hasPassword: fc.boolean(),
  linkPrompt: fc.constantFrom("ask", "declined"),
  // Synced by the org's current connection, by another of its integrations (a previous connection), or by none left.
  syncedBy: fc.option(fc.nat(), { nil: null }),
  link: fc.option(fc.nat(), { nil: null }),
});

type OrgSpec = typeof orgArb extends fc.Arbitrary<infer T> ? T : never;
type UserSpec = typeof userArb extends fc.Arbitrary<infer T> ? T : never;

let run = 0;

async function seed(org: OrgSpec, users: UserSpec[]) {
  run++;
  const { id: orgId } = await createOrg();
  const integrations: { id: string; tenantId: string }[] = [];
  for (const [i, status] of org.integrations.entries()) {
    integrations.push(await db.integration.create({ data: { orgId, tenantId: `tenant-${run}-${i}`, status } }));
  }
  const pick = (n: number | null) => (n === null || integrations.length === 0 ? null : integrations[n % integrations.length]!);
  await db.organization.update({
    where: { id: orgId },
    data: { ssoLicensed: org.ssoLicensed, ssoEnabled: org.ssoEnabled, ssoForAllSynced: org.ssoForAllSynced, syncIntegrationId: pick(org.sync)?.id ?? null },
  });
  const rows = users.map((u, i) => ({ ...u, id: `u-${run}-${i}`, link: pick(u.link) }));
  await db.user.createMany({
    data: rows.map((u, i) => ({
      id: u.id,
      orgId,
      name: `User ${i}`,
      source: u.source,
      ssoEnabled: u.ssoEnabled,
      passwordHash: u.hasPassword ? "$argon2id$not-a-real-hash" : null,
      linkPrompt: u.linkPrompt,
      syncIntegrationId: pick(u.syncedBy)?.id ?? null,
    })),
  });
  await db.microsoftLink.createMany({
    data: rows.flatMap((u) => (u.link ? [{ userId: u.id, integrationId: u.link.id, tenantId: u.link.tenantId, objectId: `oid-${u.id}` }] : [])),
  });
  return orgId;
}

async function expectEquivalent(orgId: string) {
  const state = await loadOrgState(orgId);
  const users = await db.user.findMany({ where: { orgId }, select: strategyUserSelect });
  for (const method of METHODS) {
    const selected = await db.user.findMany({ where: { AND: [{ orgId }, methodWhere(state, method)] }, select: { id: true } });
    const expected = users.filter((u) => strategyIn(state, u).method === method).map((u) => u.id);
    expect(selected.map((u) => u.id).sort(), method).toEqual(expected.sort());
    // The same condition as the SQL the users list runs.
    const raw = await db.$queryRaw<{ id: string }[]>`SELECT u."id" FROM "User" u WHERE u."orgId" = ${orgId} AND ${whereSql(methodWhere(state, method), orgId)}`;
    expect(raw.map((u) => u.id).sort(), `${method} (SQL)`).toEqual(expected.sort());
  }
}

describe("methodWhere", () => {
  it("selects exactly the users the rule gives that method, for random org states and users", async () => {
    // A second org with users of every kind: its rows must never be selected.
    await seed({ ssoLicensed: true, ssoEnabled: true, ssoForAllSynced: true, integrations: ["active"], sync: 0 }, [
      { source: "synced", ssoEnabled: true, hasPassword: true, linkPrompt: "ask", syncedBy: 0, link: null },
      { source: "local", ssoEnabled: false, hasPassword: false, linkPrompt: "ask", syncedBy: null, link: 0 },
    ]);
    await fc.assert(
      fc.asyncProperty(orgArb, fc.array(userArb, { maxLength: 14 }), async (org, users) => expectEquivalent(await seed(org, users))),
      { numRuns: 60 },
    );
  }, 120_000);

  it("holds for every combination of the rule's org switches with every kind of user", async () => {
    // Exhaustive over the switches and integration states the arbitraries may rarely hit together.
    const everyUser = allUsers();
    for (const ssoLicensed of [false, true])
      for (const ssoEnabled of [false, true])
        for (const ssoForAllSynced of [false, true])
          for (const [integrations, sync] of [
            [[], null],
            [["active", "removed"], 0],
            [["removed", "active"], 0],
            [["active", "active"], null],
          ] as const) {
            await expectEquivalent(await seed({ ssoLicensed, ssoEnabled, ssoForAllSynced, integrations: [...integrations], sync }, everyUser));
          }
  }, 120_000);

  it("keeps the condition small", async () => {
    const orgId = await seed({ ssoLicensed: true, ssoEnabled: true, ssoForAllSynced: false, integrations: ["active", "removed"], sync: 0 }, []);
    const state = await loadOrgState(orgId);
    for (const method of METHODS) expect(JSON.stringify(methodWhere(state, method)).length, method).toBeLessThan(600);
    // With SSO off the method is the password alone.
    const off = { ...state, ssoEnabled: false };
    expect(methodWhere(off, "password")).toEqual({ passwordHash: { not: null } });
    expect(methodWhere(off, "microsoft")).toEqual({ id: { in: [] } });
  });
});

/** One user of every combination of facts (links and sync through the first or the second integration). */
function allUsers(): UserSpec[] {
  const out: UserSpec[] = [];
  for (const source of ["local", "synced"] as const)
    for (const ssoEnabled of [false, true])
      for (const hasPassword of [false, true])
        for (const linkPrompt of ["ask", "declined"] as const)
          for (const syncedBy of [null, 0, 1]) for (const link of [null, 0, 1]) out.push({ source, ssoEnabled, hasPassword, linkPrompt, syncedBy, link });
  return out;
}
