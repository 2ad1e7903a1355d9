// The one loader of the rule's input, with three ways to ask: one user (sign-in, profile), a whole org
// (lists, badges) and a what-if (previews, the method-change path). The only module besides tests that
// imports the rule (eslint.config.js says so).
import type { Prisma, User } from "~/generated/prisma/client.ts";
import { db } from "../db.server.ts";
import { resolveSignIn, strategyUser, type SignInMethod, type SignInStrategy, type StrategyInput } from "./rule.ts";

export type { SignInMethod, SignInStrategy } from "./rule.ts";

// ---- one user ----

type SqlBoolean = boolean | number | bigint;
type StrategyRow = {
  ssoLicensed: SqlBoolean;
  ssoEnabled: SqlBoolean;
  ssoForAllSynced: SqlBoolean;
  syncStatus: string | null;
  syncIntegrationId: string | null;
  hasActiveIntegration: SqlBoolean;
  linkId: string | null;
  linkStatus: string | null;
};

// Runs in every sign-in: one statement instead of one query per relation (Prisma does not join them).
// Plain SQL that SQLite and PostgreSQL both read; EXISTS comes back as 0/1 from SQLite, true/false elsewhere.
const strategyRow = (user: Pick<User, "id" | "orgId">) => db.$queryRaw<StrategyRow[]>`
  SELECT o."ssoLicensed", o."ssoEnabled", o."ssoForAllSynced", s."status" AS "syncStatus", o."syncIntegrationId",
    EXISTS (SELECT 1 FROM "Integration" i WHERE i."orgId" = o."id" AND i."status" = 'active') AS "hasActiveIntegration",
    l."id" AS "linkId", li."status" AS "linkStatus"
  FROM "Organization" o
  LEFT JOIN "Integration" s ON s."id" = o."syncIntegrationId"
  LEFT JOIN "MicrosoftLink" l ON l."userId" = ${user.id}
  LEFT JOIN "Integration" li ON li."id" = l."integrationId"
  WHERE o."id" = ${user.orgId}`;

type UserFacts = Pick<User, "id" | "orgId" | "source" | "ssoEnabled" | "passwordHash" | "linkPrompt" | "syncIntegrationId">;

/**
 * A synced user signs in with Microsoft through the org's sync connection only if it is the connection they
 * were synced by: users left from an earlier connection (another tenant, or a removed one) are not kept on a
 * Microsoft identity nothing can sign in any more.
 */
const syncedByConnection = (orgSyncIntegrationId: string | null, user: { syncIntegrationId: string | null }) =>
  orgSyncIntegrationId !== null && user.syncIntegrationId === orgSyncIntegrationId;

/** How this user signs in now, and what is offered to them. */
export async function signInStrategyFor(user: UserFacts): Promise<SignInStrategy> {
  const [row] = await strategyRow(user);
  if (!row) throw new Error(`The organization ${user.orgId} of user ${user.id} does not exist.`);
  return resolveSignIn({
    org: {
      ssoLicensed: Boolean(row.ssoLicensed),
      ssoEnabled: Boolean(row.ssoEnabled),
      ssoForAllSynced: Boolean(row.ssoForAllSynced),
      syncIntegrationActive: row.syncStatus === "active" && syncedByConnection(row.syncIntegrationId, user),
      hasActiveIntegration: Boolean(row.hasActiveIntegration),
    },
    user: strategyUser(user, row.linkId ? { integrationActive: row.linkStatus === "active" } : null),
  });
}

/** The link offer as it would be if the user had not declined it (My Profile still offers the link). */
export async function linkOfferIgnoringDecline(user: UserFacts): Promise<boolean> {
  return (await signInStrategyFor({ ...user, linkPrompt: "ask" })).offerLink;
}

export type MicrosoftIdentity = { tenantId: string; objectId: string; upn: string | null };

/** The Microsoft identity a user signs in with: their link, or the identity sync gave them. */
export async function microsoftIdentityOf(user: User, strategy: SignInStrategy): Promise<MicrosoftIdentity | null> {
  if (strategy.identity === "sync" && user.entraTenantId && user.entraObjectId) {
    return { tenantId: user.entraTenantId, objectId: user.entraObjectId, upn: user.entraUpn };
  }
  if (strategy.identity === "link") {
    const link = await db.microsoftLink.findUnique({ where: { userId: user.id } });
    if (link) return { tenantId: link.tenantId, objectId: link.objectId, upn: link.upn };
  }
  return null;
}

/** The user whose Microsoft identity this is — by (tid, oid) only, never by email — and whose org has that tenant active. */
export async function userForMicrosoftIdentity(tenantId: string, objectId: string): Promise<User | null> {
  const link = await db.microsoftLink.findUnique({ where: { tenantId_objectId: { tenantId, objectId } }, include: { user: true } });
  const user = link?.user ?? (await db.user.findUnique({ where: { entraTenantId_entraObjectId: { entraTenantId: tenantId, entraObjectId: objectId } } }));
  if (!user || user.status !== "active") return null;
  const integration = await db.integration.findFirst({ where: { orgId: user.orgId, tenantId, status: "active" } });
  return integration ? user : null;
}

// ---- a whole org ----

/** The org's switches and which of its integrations are active: what the rule needs of the org. */
export type OrgState = StrategyInput["org"] & { integrations: Map<string, boolean>; syncIntegrationId: string | null };

/** The database, or the transaction a change runs in (the method-change path reads inside its own). */
export type Client = Pick<typeof db, "organization" | "user">;

export async function loadOrgState(orgId: string, q: Client = db): Promise<OrgState> {
  const org = await q.organization.findUniqueOrThrow({
    where: { id: orgId },
    include: { integrations: { select: { id: true, status: true } } },
  });
  const integrations = new Map(org.integrations.map((i) => [i.id, i.status === "active"]));
  return withDerived({
    ssoLicensed: org.ssoLicensed,
    ssoEnabled: org.ssoEnabled,
    ssoForAllSynced: org.ssoForAllSynced,
    syncIntegrationActive: false,
    hasActiveIntegration: false,
    integrations,
    syncIntegrationId: org.syncIntegrationId,
  });
}

function withDerived(state: OrgState): OrgState {
  return {
    ...state,
    syncIntegrationActive: state.syncIntegrationId ? state.integrations.get(state.syncIntegrationId) === true : false,
    hasActiveIntegration: [...state.integrations.values()].some(Boolean),
  };
}

/** What the rule needs of a user, loaded with `strategyUserSelect`. */
export type StrategyUser = {
  id: string;
  source: string;
  ssoEnabled: boolean;
  passwordHash: string | null;
  linkPrompt: string;
  syncIntegrationId: string | null;
  microsoftLink: { integrationId: string } | null;
};

export const strategyUserSelect = {
  id: true,
  source: true,
  ssoEnabled: true,
  passwordHash: true,
  linkPrompt: true,
  syncIntegrationId: true,
  microsoftLink: { select: { integrationId: true } },
} as const;

/** The rule's answer for a user of an org whose state is already loaded (no I/O: lists call it per row). */
export function strategyIn(org: OrgState, user: StrategyUser): SignInStrategy {
  const link = user.microsoftLink ? { integrationActive: org.integrations.get(user.microsoftLink.integrationId) === true } : null;
  const syncIntegrationActive = org.syncIntegrationActive && syncedByConnection(org.syncIntegrationId, user);
  return resolveSignIn({ org: { ...org, syncIntegrationActive }, user: strategyUser(user, link) });
}

// ---- a whole org, in SQL ----

/**
 * Given the org's state, a user's method depends only on these facts about the row. Each fact splits the rows
 * into classes; a class has a representative (to ask the rule about) and the Prisma condition that selects
 * exactly its rows. Classes that cannot occur in this org's state (no sync connection, no active integration)
 * are left out.
 */
type FactClass = { user: Partial<StrategyUser>; where: Prisma.UserWhereInput };
type Fact = FactClass[];

function userFacts(state: OrgState): Fact[] {
  const active = [...state.integrations].filter(([, on]) => on).map(([id]) => id);
  const sync = state.syncIntegrationId;
  const inactiveLink: Prisma.UserWhereInput = active.length
    ? { microsoftLink: { is: { integrationId: { notIn: active } } } }
    : { microsoftLink: { isNot: null } };
  return [
    [
      { user: { source: "synced" }, where: { source: "synced" } },
      { user: { source: "local" }, where: { source: { not: "synced" } } },
    ],
    [
      { user: { ssoEnabled: true }, where: { ssoEnabled: true } },
      { user: { ssoEnabled: false }, where: { ssoEnabled: false } },
    ],
    [
      { user: { passwordHash: "(set)" }, where: { passwordHash: { not: null } } },
      { user: { passwordHash: null }, where: { passwordHash: null } },
    ],
    [
      { user: { linkPrompt: "declined" }, where: { linkPrompt: "declined" } },
      { user: { linkPrompt: "ask" }, where: { linkPrompt: { not: "declined" } } },
    ],
    sync
      ? [
          { user: { syncIntegrationId: sync }, where: { syncIntegrationId: sync } },
          { user: { syncIntegrationId: null }, where: { OR: [{ syncIntegrationId: null }, { syncIntegrationId: { not: sync } }] } },
        ]
      : [{ user: { syncIntegrationId: null }, where: {} }],
    [
      { user: { microsoftLink: null }, where: { microsoftLink: { is: null } } },
      ...(active.length
        ? [{ user: { microsoftLink: { integrationId: active[0]! } }, where: { microsoftLink: { is: { integrationId: { in: active } } } } }]
        : []),
      // Any id the org does not hold as active stands for every such link.
      { user: { microsoftLink: { integrationId: "(not active)" } }, where: inactiveLink },
    ],
  ];
}

/** A set of rows: for each fact, the classes (by index) it takes in. */
type Cube = Set<number>[];

function* cells(cube: Cube, f = 0, prefix: number[] = []): Generator<number[]> {
  if (f === cube.length) yield prefix;
  else for (const i of cube[f]!) yield* cells(cube, f + 1, [...prefix, i]);
}

/**
 * Few cubes that together are exactly the given combinations: each uncovered combination is grown one class
 * at a time while all it covers stays inside; then cubes the others already cover are dropped. Exact, small,
 * not always minimal.
 */
function cover(on: number[][], facts: Fact[]): Cube[] {
  const inside = new Set(on.map((c) => c.join()));
  const within = (cube: Cube) => [...cells(cube)].every((c) => inside.has(c.join()));
  const covers = (cube: Cube, c: number[]) => c.every((i, f) => cube[f]!.has(i));
  const cubes: Cube[] = [];
  for (const combination of on) {
    if (cubes.some((cube) => covers(cube, combination))) continue;
    const cube: Cube = combination.map((i) => new Set([i]));
    for (const [f, fact] of facts.entries()) {
      for (const i of fact.keys()) {
        if (cube[f]!.has(i)) continue;
        const grown = cube.map((s, g) => (g === f ? new Set([...s, i]) : s));
        if (within(grown)) cube[f] = grown[f]!;
      }
    }
    cubes.push(cube);
  }
  const size = (cube: Cube) => cube.reduce((n, s) => n * s.size, 1);
  for (const cube of [...cubes].sort((a, b) => size(a) - size(b))) {
    const others = cubes.filter((c) => c !== cube);
    if ([...cells(cube)].every((c) => others.some((o) => covers(o, c)))) cubes.splice(cubes.indexOf(cube), 1);
  }
  return cubes;
}

/**
 * The rows of the org whose method is `method`, as a Prisma condition derived from the rule itself: the rule
 * is asked about one user of every combination of facts, and the combinations that answer `method` become a
 * few OR-ed conditions, so that a list filters in SQL with the rule still the only decider.
 */
export function methodWhere(state: OrgState, method: SignInMethod): Prisma.UserWhereInput {
  const facts = userFacts(state);
  let combinations: number[][] = [[]];
  for (const fact of facts) combinations = combinations.flatMap((c) => fact.map((_, i) => [...c, i]));
  const base: StrategyUser = {
    id: "",
    source: "local",
    ssoEnabled: false,
    passwordHash: null,
    linkPrompt: "ask",
    syncIntegrationId: null,
    microsoftLink: null,
  };
  const asUser = (c: number[]): StrategyUser => Object.assign({ ...base }, ...c.map((i, f) => facts[f]![i]!.user));
  const cubes = cover(
    combinations.filter((c) => strategyIn(state, asUser(c)).method === method),
    facts,
  );
  if (cubes.length === 0) return { id: { in: [] } };
  // A fact a cube leaves open costs nothing; one every cube restricts the same way is said once, outside the OR.
  const condition = (f: number, classes: Set<number>): Prisma.UserWhereInput | null => {
    if (classes.size === facts[f]!.length) return null;
    const wheres = [...classes].map((i) => facts[f]![i]!.where);
    return wheres.length === 1 ? wheres[0]! : { OR: wheres };
  };
  const classesKey = (classes: Set<number>) => [...classes].sort().join();
  const same = (f: number) => cubes.every((c) => classesKey(c[f]!) === classesKey(cubes[0]![f]!));
  const shared = facts.flatMap((_, f) => (same(f) ? [condition(f, cubes[0]![f]!)] : [])).filter((w) => w !== null);
  const alternatives = cubes.map((cube) => cube.flatMap((classes, f) => (same(f) ? [] : [condition(f, classes)])).filter((w) => w !== null));
  const and = (ws: Prisma.UserWhereInput[]): Prisma.UserWhereInput => (ws.length === 1 ? ws[0]! : { AND: ws });
  // An alternative with nothing left to check already takes in every row the shared conditions select.
  const rest = alternatives.some((a) => a.length === 0) ? [] : alternatives.length === 1 ? alternatives[0]! : [{ OR: alternatives.map(and) }];
  return and([...shared, ...rest]);
}

/** The org's state once, then the rule per row: for lists and badges. */
export async function orgMethods(orgId: string) {
  const state = await loadOrgState(orgId);
  return { state, strategyOf: (user: StrategyUser) => strategyIn(state, user) };
}

// ---- what if ----

export type Change =
  | { kind: "org"; ssoEnabled?: boolean; ssoForAllSynced?: boolean; ssoLicensed?: boolean }
  /** The integration stops working (removed, consent withdrawn) or, with `active`, starts working again. */
  | { kind: "integration"; integrationId: string; active?: boolean }
  /** The org's sync connection becomes this integration, or none. */
  | { kind: "sync_connection"; integrationId: string | null }
  /** The user's link goes (unlink, revoke) or comes (link through an integration). */
  | { kind: "link"; userId: string; integrationId?: string | null }
  | { kind: "user_sso"; userId: string; enabled: boolean }
  /** The user becomes the synced user of the org's sync integration (conflict "attach"). */
  | { kind: "attach"; userId: string }
  /** The user has a password (set, reset, invitation) — or loses it. */
  | { kind: "password"; userId: string; hasPassword: boolean }
  /** The user is disabled or deactivated: they sign in no more, and count as no admin. */
  | { kind: "disable"; userId: string };

export type AffectedUser = { id: string; name: string; email: string | null; role: string; from: SignInMethod; to: SignInMethod };

export type Preview = {
  /** Users who sign in with their password after the change (and did not before). */
  toPassword: AffectedUser[];
  /** Users left with no way to sign in: the admin must act (a set-password link). */
  toNone: AffectedUser[];
  /** Users who sign in with Microsoft after the change (and did not before). */
  toMicrosoft: AffectedUser[];
  /** Users whose method was Microsoft and is not any more: their Microsoft sessions end. */
  leftMicrosoft: AffectedUser[];
  /** Active admins, and those able to sign in with password + authenticator before and after. */
  admins: number;
  adminsOnPasswordBefore: number;
  adminsOnPassword: number;
  /** The change takes the org from at least one admin on password to none. */
  locksOut: boolean;
  /** The methods of the user a one-user change is about (null: not an active user of the org). */
  target: { from: SignInMethod; to: SignInMethod } | null;
};

function applyToOrg(org: OrgState, change: Change): OrgState {
  if (change.kind === "org") {
    const { kind: _kind, ...switches } = change;
    return { ...org, ...Object.fromEntries(Object.entries(switches).filter(([, v]) => v !== undefined)) };
  }
  if (change.kind === "sync_connection") return withDerived({ ...org, syncIntegrationId: change.integrationId });
  if (change.kind !== "integration") return org;
  return withDerived({ ...org, integrations: new Map(org.integrations).set(change.integrationId, change.active ?? false) });
}

type PreviewUser = StrategyUser & { name: string; email: string | null; role: string };

/** The user as the change leaves them; null when they sign in no more (disabled). */
function applyToUser(user: PreviewUser, change: Change, syncIntegrationId: string | null): PreviewUser | null {
  if (!("userId" in change) || change.userId !== user.id) return user;
  switch (change.kind) {
    case "user_sso":
      return { ...user, ssoEnabled: change.enabled };
    case "link":
      return { ...user, microsoftLink: change.integrationId ? { integrationId: change.integrationId } : null };
    case "attach":
      return { ...user, source: "synced", syncIntegrationId, microsoftLink: null };
    case "password":
      return { ...user, passwordHash: change.hasPassword ? "(set)" : null };
    case "disable":
      return null;
  }
}

/** Whom the change moves and where; whether it leaves the org with no admin on password. Reads, never writes. */
export async function whatIf(orgId: string, change: Change, q: Client = db): Promise<Preview> {
  const before = await loadOrgState(orgId, q);
  const after = applyToOrg(before, change);
  const target = "userId" in change ? [{ id: change.userId }] : [];
  // Only linked or synced users can have Microsoft as their method; admins are loaded to guard against a lock-out.
  const users = await q.user.findMany({
    where: { orgId, status: "active", OR: [{ microsoftLink: { isNot: null } }, { source: "synced" }, { role: "admin" }, ...target] },
    select: { ...strategyUserSelect, name: true, email: true, role: true },
    orderBy: { name: "asc" },
  });
  const preview: Preview = {
    toPassword: [],
    toNone: [],
    toMicrosoft: [],
    leftMicrosoft: [],
    admins: 0,
    adminsOnPasswordBefore: 0,
    adminsOnPassword: 0,
    locksOut: false,
    target: null,
  };
  for (const user of users) {
    const from = strategyIn(before, user).method;
    const changed = applyToUser(user, change, after.syncIntegrationId);
    const to = changed ? strategyIn(after, changed).method : "none";
    if ("userId" in change && change.userId === user.id) preview.target = { from, to };
    if (user.role === "admin") {
      preview.admins++;
      if (from === "password") preview.adminsOnPasswordBefore++;
      if (to === "password" && changed) preview.adminsOnPassword++;
    }
    if (from === to || !changed) {
      if (!changed && from === "microsoft") preview.leftMicrosoft.push({ id: user.id, name: user.name, email: user.email, role: user.role, from, to });
      continue;
    }
    const affected = { id: user.id, name: user.name, email: user.email, role: user.role, from, to };
    ({ password: preview.toPassword, none: preview.toNone, microsoft: preview.toMicrosoft })[to].push(affected);
    if (from === "microsoft") preview.leftMicrosoft.push(affected);
  }
  preview.locksOut = preview.adminsOnPasswordBefore > 0 && preview.adminsOnPassword === 0;
  return preview;
}
