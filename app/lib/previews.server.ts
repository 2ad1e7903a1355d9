// "What happens if I turn this off": the strategy applied to every user whose method could change, before
// and after a switch, so that nothing is turned off behind the admin's back (DESIGN.md).
import { db } from "./db.server.ts";
import { resolveSignIn, strategyUser, type SignInMethod, type StrategyInput } from "./strategy.ts";

export type Change =
  | { kind: "org"; ssoEnabled?: boolean; ssoForAllSynced?: boolean; ssoLicensed?: boolean }
  | { kind: "integration"; integrationId: string }
  | { kind: "link"; userId: string }
  | { kind: "user_sso"; userId: string; enabled: boolean };

export type AffectedUser = { id: string; name: string; email: string | null; from: SignInMethod; to: SignInMethod };

export type Preview = {
  /** Users who sign in with their password after the change (and did not before). */
  toPassword: AffectedUser[];
  /** Users left with no way to sign in: the admin must act (a set-password link). */
  toNone: AffectedUser[];
  /** Users who sign in with Microsoft after the change (and did not before). */
  toMicrosoft: AffectedUser[];
};

/** The org's switches and which of its integrations are active: what the strategy needs of the org. */
export type OrgState = StrategyInput["org"] & { integrations: Map<string, boolean>; syncIntegrationId: string | null };

export async function loadOrgState(orgId: string): Promise<OrgState> {
  const org = await db.organization.findUniqueOrThrow({
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

/** What the strategy needs of a user, loaded with `strategyUserSelect`. */
export type StrategyUser = {
  id: string;
  source: string;
  ssoEnabled: boolean;
  passwordHash: string | null;
  linkPrompt: string;
  microsoftLink: { integrationId: string } | null;
};

export const strategyUserSelect = {
  id: true, source: true, ssoEnabled: true, passwordHash: true, linkPrompt: true, microsoftLink: { select: { integrationId: true } },
} as const;

/** The strategy's input for a user of an org whose state is already loaded (no I/O: lists call it per row). */
export function strategyInput(org: OrgState, user: StrategyUser): StrategyInput {
  return { org, user: strategyUser(user, user.microsoftLink ? { integrationActive: org.integrations.get(user.microsoftLink.integrationId) === true } : null) };
}

function apply(org: OrgState, change: Change): OrgState {
  if (change.kind === "org") {
    const { kind: _kind, ...switches } = change;
    return { ...org, ...Object.fromEntries(Object.entries(switches).filter(([, v]) => v !== undefined)) };
  }
  if (change.kind !== "integration") return org;
  return withDerived({ ...org, integrations: new Map(org.integrations).set(change.integrationId, false) });
}

function applyToUser(user: StrategyUser, change: Change): StrategyUser {
  if (change.kind === "user_sso" && change.userId === user.id) return { ...user, ssoEnabled: change.enabled };
  if (change.kind === "link" && change.userId === user.id) return { ...user, microsoftLink: null };
  return user;
}

/** Users of the org whose method the change moves, grouped by where they end up; and how many admins keep a password. */
export async function previewChange(orgId: string, change: Change): Promise<Preview & { admins: number; adminsOnPassword: number }> {
  const before = await loadOrgState(orgId);
  const after = apply(before, change);
  // Only linked or synced users can have Microsoft as their method; admins are loaded to guard against a lock-out.
  const users = await db.user.findMany({
    where: { orgId, status: "active", OR: [{ microsoftLink: { isNot: null } }, { source: "synced" }, { role: "admin" }] },
    select: { ...strategyUserSelect, name: true, email: true, role: true },
    orderBy: { name: "asc" },
  });
  const preview = { toPassword: [] as AffectedUser[], toNone: [] as AffectedUser[], toMicrosoft: [] as AffectedUser[], admins: 0, adminsOnPassword: 0 };
  for (const user of users) {
    const from = resolveSignIn(strategyInput(before, user)).method;
    const to = resolveSignIn(strategyInput(after, applyToUser(user, change))).method;
    if (user.role === "admin") {
      preview.admins++;
      if (to === "password") preview.adminsOnPassword++;
    }
    if (from === to) continue;
    const affected = { id: user.id, name: user.name, email: user.email, from, to };
    ({ password: preview.toPassword, none: preview.toNone, microsoft: preview.toMicrosoft })[to].push(affected);
  }
  return preview;
}
