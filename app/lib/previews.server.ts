// "What happens if I turn this off": the strategy applied to every user whose method could change, before
// and after a switch, so that nothing is turned off behind the admin's back (DESIGN.md).
import { db } from "./db.server.ts";
import { resolveSignIn, type SignInMethod, type StrategyInput } from "./strategy.ts";

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

type OrgState = StrategyInput["org"] & { integrations: Map<string, boolean> };

function apply(org: OrgState, change: Change): OrgState {
  if (change.kind === "org") {
    const { kind: _kind, ...switches } = change;
    return { ...org, ...Object.fromEntries(Object.entries(switches).filter(([, v]) => v !== undefined)) };
  }
  if (change.kind !== "integration") return org;
  const integrations = new Map(org.integrations).set(change.integrationId, false);
  return { ...org, integrations, hasActiveIntegration: [...integrations.values()].some(Boolean) };
}

/** Users of the org whose method the change moves, grouped by where they end up. */
export async function previewChange(orgId: string, change: Change): Promise<Preview> {
  const org = await db.organization.findUniqueOrThrow({
    where: { id: orgId },
    include: { integrations: { select: { id: true, status: true } } },
  });
  const integrations = new Map(org.integrations.map((i) => [i.id, i.status === "active"]));
  const before: OrgState = {
    ssoLicensed: org.ssoLicensed,
    ssoEnabled: org.ssoEnabled,
    ssoForAllSynced: org.ssoForAllSynced,
    syncIntegrationActive: org.syncIntegrationId ? integrations.get(org.syncIntegrationId) === true : false,
    hasActiveIntegration: [...integrations.values()].some(Boolean),
    integrations,
  };
  const after = apply(before, change);
  after.syncIntegrationActive = org.syncIntegrationId ? after.integrations.get(org.syncIntegrationId) === true : false;

  // Only linked or synced users can have Microsoft as their method; nobody else moves.
  const users = await db.user.findMany({
    where: { orgId, status: "active", OR: [{ microsoftLink: { isNot: null } }, { source: "synced" }] },
    select: { id: true, name: true, email: true, source: true, ssoEnabled: true, passwordHash: true, linkPrompt: true, microsoftLink: { select: { integrationId: true } } },
    orderBy: { name: "asc" },
  });
  const preview: Preview = { toPassword: [], toNone: [], toMicrosoft: [] };
  for (const user of users) {
    const input = (state: OrgState, removed: boolean): StrategyInput => ({
      org: state,
      user: {
        source: user.source === "synced" ? "synced" : "local",
        ssoEnabled: change.kind === "user_sso" && change.userId === user.id && removed ? change.enabled : user.ssoEnabled,
        hasPassword: Boolean(user.passwordHash),
        linkPrompt: user.linkPrompt === "declined" ? "declined" : "ask",
        link:
          user.microsoftLink && !(removed && change.kind === "link" && change.userId === user.id)
            ? { integrationActive: state.integrations.get(user.microsoftLink.integrationId) === true }
            : null,
      },
    });
    const from = resolveSignIn(input(before, false)).method;
    const to = resolveSignIn(input(after, true)).method;
    if (from === to) continue;
    const affected = { id: user.id, name: user.name, email: user.email, from, to };
    ({ password: preview.toPassword, none: preview.toNone, microsoft: preview.toMicrosoft })[to].push(affected);
  }
  return preview;
}
