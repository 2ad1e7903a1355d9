// Graph reads the Entra ID Sync page makes while an admin waits: finding a group by name, and the member IDs of
// a group (to say how many synced users a new scope leaves out). One attempt each, a person's timeout, and one
// closed set of outcomes; the run's delta reads are in graph.server.ts.
import { env } from "../env.server.ts";
import { appToken } from "../microsoft/consent.server.ts";
import { MicrosoftUnavailableError, microsoftFetch } from "../microsoft/http.server.ts";
import { missingPermissionsSentence } from "../microsoft/permissions.ts";

export type GroupMatch = { id: string; displayName: string; mail: string | null };
export type LookupFailure = { kind: "failed"; code: "missing_permission" | "unavailable" | "refused" | "not_found"; message: string };

/** How many matches the page lists; more than that means the admin should type more of the name. */
export const SEARCH_TOP = 25;
/** Member pages are read at Graph's largest size, and only this many (250,000 members) before giving up. */
const MEMBER_PAGE = 999;
const MEMBER_PAGES = 250;

const graphBase = () => `${env().GRAPH_BASE_URL}/v1.0`;

/**
 * The term as one `$search` clause: inside the quotes, `\` and `"` are escaped with a backslash, so the term
 * cannot close the clause and add its own (`x" OR "displayName:`). Control characters are dropped.
 */
export function searchClause(term: string): string {
  const clean = term.replace(/\p{Cc}/gu, " ").trim();
  return `"displayName:${clean.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export const groupSearchUrl = (term: string) =>
  `${graphBase()}/groups?$search=${encodeURIComponent(searchClause(term))}&$select=id,displayName,mail&$orderby=displayName&$top=${SEARCH_TOP}&$count=true`;

const PERMISSION = () => missingPermissionsSentence({ sync: true, groupScope: true }, ["GroupMember.Read.All"]);

/** One authenticated GET; Microsoft's outages and refusals become the page's sentences. */
async function get(url: string, tenantId: string, headers: Record<string, string> = {}): Promise<{ kind: "ok"; body: unknown } | LookupFailure> {
  const token = await appToken(tenantId);
  if (token.kind === "unavailable") return unavailable();
  if (token.kind === "refused")
    return { kind: "failed", code: "refused", message: `Microsoft refused the portal an app-only token for this tenant (${token.message.slice(0, 200)}).` };
  let response: Response;
  try {
    response = await microsoftFetch(url, { headers: { Authorization: `Bearer ${token.accessToken}`, Accept: "application/json", ...headers } });
  } catch (error) {
    if (error instanceof MicrosoftUnavailableError) return unavailable();
    throw error;
  }
  if (response.status === 403) {
    await response.body?.cancel();
    return { kind: "failed", code: "missing_permission", message: PERMISSION() };
  }
  if (response.status === 404) {
    await response.body?.cancel();
    return { kind: "failed", code: "not_found", message: "Microsoft Graph does not know that group in this tenant (it may have been deleted)." };
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    return {
      kind: "failed",
      code: "refused",
      message: `Microsoft Graph refused the request (HTTP ${response.status}). Try again, or enter the group's object ID.`,
    };
  }
  try {
    return { kind: "ok", body: await response.json() };
  } catch {
    return unavailable();
  }
}

const unavailable = (): LookupFailure => ({
  kind: "failed",
  code: "unavailable",
  message: "Microsoft Graph did not answer in time. Try again in a moment, or enter the group's object ID.",
});

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const text = (v: unknown, max: number) => (typeof v === "string" ? v.slice(0, max) : null);

/** Groups of the tenant whose name matches `term` (Graph's advanced query: needs `ConsistencyLevel: eventual`). */
export async function searchGroups(tenantId: string, term: string): Promise<{ kind: "ok"; groups: GroupMatch[] } | LookupFailure> {
  const answer = await get(groupSearchUrl(term), tenantId, { ConsistencyLevel: "eventual" });
  if (answer.kind !== "ok") return answer;
  const value = (answer.body as { value?: unknown }).value;
  const groups = (Array.isArray(value) ? value : [])
    .map((g: { id?: unknown; displayName?: unknown; mail?: unknown }) => ({
      id: text(g?.id, 64)?.toLowerCase() ?? "",
      displayName: text(g?.displayName, 256) ?? "(no name)",
      mail: text(g?.mail, 320),
    }))
    .filter((g) => GUID.test(g.id))
    .slice(0, SEARCH_TOP);
  return { kind: "ok", groups };
}

/** The group's name, or null when Graph does not know the ID. */
export async function groupName(tenantId: string, groupId: string): Promise<{ kind: "ok"; displayName: string | null } | LookupFailure> {
  const answer = await get(`${graphBase()}/groups/${encodeURIComponent(groupId)}?$select=id,displayName`, tenantId);
  if (answer.kind !== "ok") return answer.code === "not_found" ? { kind: "ok", displayName: null } : answer;
  return { kind: "ok", displayName: text((answer.body as { displayName?: unknown }).displayName, 256) };
}

/**
 * The lower-cased object IDs of the group's direct members, paged with `$select=id` only. Stops with
 * "unavailable" past `deadline` (a Date) or MEMBER_PAGES pages, so the page never waits long.
 */
export async function groupMemberIds(
  tenantId: string,
  groupId: string,
  deadline: Date,
  pageSize = MEMBER_PAGE,
): Promise<{ kind: "ok"; ids: Set<string> } | LookupFailure> {
  const ids = new Set<string>();
  const origin = new URL(env().GRAPH_BASE_URL).origin;
  let url: string | null = `${graphBase()}/groups/${encodeURIComponent(groupId)}/members?$select=id&$top=${pageSize}`;
  for (let pages = 0; url; pages++) {
    if (pages >= MEMBER_PAGES || Date.now() > deadline.getTime())
      return {
        kind: "failed",
        code: "unavailable",
        message: "Reading the group's members took too long (the group is very large, or Microsoft Graph is slow).",
      };
    const answer = await get(url, tenantId);
    if (answer.kind !== "ok") return answer;
    const body = answer.body as { value?: unknown; "@odata.nextLink"?: unknown };
    for (const member of Array.isArray(body.value) ? body.value : []) {
      const id = text((member as { id?: unknown })?.id, 64);
      if (id) ids.add(id.toLowerCase());
    }
    const next = typeof body["@odata.nextLink"] === "string" ? body["@odata.nextLink"] : null;
    // The token goes only to the configured Graph host.
    url = next && URL.canParse(next) && new URL(next).origin === origin ? next : null;
  }
  return { kind: "ok", ids };
}
