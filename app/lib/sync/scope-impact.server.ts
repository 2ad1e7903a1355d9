// What the Entra ID Sync page asks Microsoft while the admin chooses a scope: groups by name, and how many of
// the users synced now a new group scope leaves out (they are deactivated at the next sync). Every ID the
// admin sends is checked against the admin's org first.
import { db } from "../db.server.ts";
import { csvLine } from "../csv.ts";
import { PREVIEW_NAMES } from "../preview-summary.ts";
import { groupMemberIds, searchGroups, type GroupMatch } from "./groups.server.ts";

/** How long the confirmation step waits for a group's members before saying the count is unknown. */
export const MEMBER_BUDGET_MS = 10_000;

type Person = { id: string; name: string; email: string | null };
export type ScopeImpact =
  | { kind: "tenant" }
  | { kind: "counted"; group: string; syncedNow: number; leaving: number; first: Person[] }
  | { kind: "unknown"; group: string; syncedNow: number; reason: string };

export const groupLabel = (groupId: string, groupName: string | null) => (groupName ? `the group ${groupName}` : `group ${groupId}`);

type Target = { id: string; tenantId: string };
type Scope = { scope: "tenant" | "group"; groupId: string | null; groupName?: string | null };

/** The org's active integration with this ID, or null (another org's ID, a removed one, garbage). */
export const activeIntegrationOf = (orgId: string, integrationId: string) =>
  db.integration.findFirst({ where: { id: integrationId, orgId, status: "active" }, select: { id: true, tenantId: true } });

/** Groups of the integration's tenant whose name contains `term`. */
export async function findGroups(orgId: string, integrationId: string, term: string) {
  const integration = await activeIntegrationOf(orgId, integrationId);
  if (!integration) return { kind: "refused" as const, message: "Choose one of your organization's active integrations." };
  return searchGroups(integration.tenantId, term);
}

/** The users the target integration syncs now, by name: the ones a sweep of its new scope can deactivate. */
const syncedNow = (target: Target) =>
  db.user.findMany({
    where: { syncIntegrationId: target.id, entraTenantId: target.tenantId, source: "synced", status: "active" },
    select: { id: true, name: true, email: true, entraObjectId: true },
    orderBy: { name: "asc" },
  });

async function leavingUsers(target: Target, scope: Scope): Promise<{ users: Person[]; syncedNow: number } | { reason: string; syncedNow: number }> {
  const users = await syncedNow(target);
  if (scope.scope === "tenant" || !users.length) return { users: [], syncedNow: users.length };
  const members = await groupMemberIds(target.tenantId, scope.groupId!, new Date(Date.now() + MEMBER_BUDGET_MS));
  if (members.kind !== "ok") return { reason: members.message, syncedNow: users.length };
  return { users: users.filter((u) => !members.ids.has(u.entraObjectId ?? "")).map(({ id, name, email }) => ({ id, name, email })), syncedNow: users.length };
}

/** "N of the M users synced now are not in <group>": counted from the group's member IDs, or unknown. */
export async function scopeImpact(target: Target, scope: Scope): Promise<ScopeImpact> {
  if (scope.scope === "tenant") return { kind: "tenant" };
  const group = groupLabel(scope.groupId!, scope.groupName ?? null);
  const found = await leavingUsers(target, scope);
  if ("reason" in found) return { kind: "unknown", group, syncedNow: found.syncedNow, reason: found.reason };
  return { kind: "counted", group, syncedNow: found.syncedNow, leaving: found.users.length, first: found.users.slice(0, PREVIEW_NAMES) };
}

/** Everyone the new scope leaves out, one row each (the full list behind the first names). */
export async function scopeImpactCsv(orgId: string, integrationId: string, scope: Scope): Promise<string | null> {
  const target = await activeIntegrationOf(orgId, integrationId);
  if (!target) return null;
  const found = await leavingUsers(target, scope);
  if ("reason" in found) return null;
  return [["name", "email", "at the next sync"], ...found.users.map((u) => [u.name, u.email ?? "", "deactivated"])].map(csvLine).join("");
}

export type { GroupMatch };
