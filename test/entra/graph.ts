// Microsoft Graph v1.0 as the app uses it: /organization, /users/delta and /groups/delta (members@delta).
// Delta rounds walk the directory lazily (ordinals or the change log), so a big tenant costs no memory per request.
import type { Context } from "./context.ts";
import { USER_FIELDS, type DirectoryGroup, type DirectoryUser, type Tenant, type UserField } from "./directory.ts";
import { graphError, sendJson, type Req, type Res } from "./http.ts";

const DEFAULT_PAGE_SIZE = 100;
/** The largest $top Graph takes on /groups and /groups/{id}/members. */
const MAX_TOP = 999;
/** What Graph returns without $select (accountEnabled must be asked for). */
const DEFAULT_USER_FIELDS: UserField[] = USER_FIELDS.filter((f) => f !== "accountEnabled");
const GROUP_FIELDS = ["displayName", "members"] as const;
type GroupField = (typeof GROUP_FIELDS)[number];
const USER_ROLES = ["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const GROUP_ROLES = ["GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];

/** What a delta link carries (base64url JSON, opaque to clients). */
type DeltaToken = {
  kind: "users" | "groups";
  /** Directory generation: tokens from before a reset are unknown. */
  gen: string;
  tenant: string;
  /** Serial number (Directory.nextIssue), compared with Tenant.deltaTokensValidFrom. */
  issue: number;
  /** full: every live user (or member); changes: the change log after `since`. */
  mode: "full" | "changes";
  /** full: the sequence number when the round started (the next round reports what changed after it). */
  since: number;
  /** Next ordinal (full users), next log index (changes; null: look it up from `since`), next group index (full groups). */
  pos: number | null;
  /** Full groups: the last member already listed of the group at `pos`. */
  after: string | null;
  select: string[] | null;
  /** Groups: the IDs of $filter, or null for all groups. */
  groups: string[] | null;
};

type Caller = { tenant: Tenant; roles: string[] };

function encodeToken(token: DeltaToken): string {
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

function decodeToken(raw: string): DeltaToken | null {
  try {
    const t = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Partial<DeltaToken>;
    const strings = (v: unknown) => v === null || (Array.isArray(v) && v.every((s) => typeof s === "string"));
    const ok =
      (t.kind === "users" || t.kind === "groups") &&
      typeof t.gen === "string" &&
      typeof t.tenant === "string" &&
      Number.isSafeInteger(t.issue) &&
      (t.mode === "full" || t.mode === "changes") &&
      Number.isSafeInteger(t.since) &&
      (t.pos === null || (Number.isSafeInteger(t.pos) && t.pos! >= 0)) &&
      (t.after === null || typeof t.after === "string") &&
      strings(t.select) &&
      strings(t.groups);
    return ok ? (t as DeltaToken) : null;
  } catch {
    return null;
  }
}

/** The index of the first log entry after `seq` (logs are in sequence order). */
function firstAfter(log: { seq: number }[], seq: number): number {
  let low = 0;
  let high = log.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (log[mid]!.seq <= seq) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** What the client asks for (odata.maxpagesize, or $top), capped at what Graph serves on that endpoint. */
function pageSize(req: Req, q: URLSearchParams, most: number): { size: number; applied: boolean } {
  const preferred = /odata\.maxpagesize=(\d+)/i.exec(String(req.headers.prefer ?? ""));
  const asked = preferred ? Number(preferred[1]) : q.has("$top") ? Number(q.get("$top")) : NaN;
  if (!Number.isSafeInteger(asked) || asked < 1) return { size: Math.min(DEFAULT_PAGE_SIZE, most), applied: false };
  return { size: Math.min(asked, most), applied: !!preferred };
}

/** $select as canonical property names, or the unknown property's name. */
function parseSelect<T extends string>(raw: string | null, known: readonly T[]): { select: T[] | null } | { unknown: string } {
  if (raw === null) return { select: null };
  const select: T[] = [];
  for (const name of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (name.toLowerCase() === "id") continue;
    const field = known.find((k) => k.toLowerCase() === name.toLowerCase());
    if (!field) return { unknown: name };
    if (!select.includes(field)) select.push(field);
  }
  return { select };
}

async function authenticate(ctx: Context, req: Req, res: Res): Promise<Caller | null> {
  const challenge = {
    "WWW-Authenticate": `Bearer realm="", authorization_uri="${ctx.baseUrl}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
  };
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  if (!bearer) {
    graphError(req, res, 401, "InvalidAuthenticationToken", "Access token is empty.", challenge);
    return null;
  }
  try {
    const payload = await ctx.tokens.verifyGraphToken(bearer[1]!, ctx.baseUrl);
    const tenant = typeof payload.tid === "string" ? ctx.directory.tenant(payload.tid) : undefined;
    if (!tenant || tenant.id !== String(payload.tid).toLowerCase()) throw new Error("unknown tenant");
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === "string") : [];
    return { tenant, roles };
  } catch (error) {
    const expired = (error as { code?: string }).code === "ERR_JWT_EXPIRED";
    graphError(
      req,
      res,
      401,
      "InvalidAuthenticationToken",
      expired ? "Lifetime validation failed, the token is expired." : "Access token validation failure.",
      challenge,
    );
    return null;
  }
}

/** The token of a continued round, or null once the error is sent (410 when it is too old to continue). */
function readToken(ctx: Context, req: Req, res: Res, raw: string, kind: DeltaToken["kind"], tenant: Tenant): DeltaToken | null {
  const token = decodeToken(raw);
  if (!token || token.kind !== kind || token.tenant !== tenant.id) {
    graphError(req, res, 400, "BadRequest", "The delta token is not valid for this request.");
    return null;
  }
  if (token.gen !== ctx.directory.generation || token.issue < tenant.deltaTokensValidFrom) {
    graphError(
      req,
      res,
      410,
      "resyncRequired",
      "Resync required. Replace any local cached copies of the directory data with the data returned by a new delta query without a token.",
    );
    return null;
  }
  return token;
}

/** Sends one page with a nextLink (more of this round) or a deltaLink (the next round). */
function sendPage(ctx: Context, res: Res, path: string, context: string, value: unknown[], next: DeltaToken, done: boolean, applied: number | null) {
  const token = encodeToken({ ...next, issue: ctx.directory.nextIssue() });
  const link = done ? { "@odata.deltaLink": `${ctx.baseUrl}${path}?$deltatoken=${token}` } : { "@odata.nextLink": `${ctx.baseUrl}${path}?$skiptoken=${token}` };
  sendJson(
    res,
    200,
    { "@odata.context": `${ctx.baseUrl}/v1.0/$metadata#${context}`, value, ...link },
    applied ? { "Preference-Applied": `odata.maxpagesize=${applied}` } : {},
  );
}

const live = (user: DirectoryUser | undefined): user is DirectoryUser => !!user && !user.removed;

function userBody(user: DirectoryUser, fields: UserField[], since: number | null): Record<string, unknown> {
  if (user.removed) return { id: user.oid, "@removed": { reason: user.removed.reason } };
  const body: Record<string, unknown> = {};
  for (const field of fields) {
    if (since === null || (user.fieldSeq[field] ?? 0) > since) body[field] = user[field] ?? null;
  }
  body.id = user.oid;
  return body;
}

function usersDelta(ctx: Context, req: Req, res: Res, url: URL, tenant: Tenant) {
  const q = url.searchParams;
  const raw = q.get("$deltatoken") ?? q.get("$skiptoken");
  const { size, applied } = pageSize(req, q, ctx.pageLimits.users);
  const path = "/v1.0/users/delta";
  let token: DeltaToken;
  if (raw && raw.toLowerCase() !== "latest") {
    const read = readToken(ctx, req, res, raw, "users", tenant);
    if (!read) return;
    token = read;
  } else {
    const parsed = parseSelect(q.get("$select"), USER_FIELDS);
    if ("unknown" in parsed)
      return graphError(req, res, 400, "Request_BadRequest", `Could not find a property named '${parsed.unknown}' on type 'microsoft.graph.user'.`);
    token = {
      kind: "users",
      gen: ctx.directory.generation,
      tenant: tenant.id,
      issue: 0,
      mode: "full",
      since: ctx.directory.currentSeq,
      pos: 0,
      after: null,
      select: parsed.select,
      groups: null,
    };
    if (raw) return sendPage(ctx, res, path, "users", [], { ...token, mode: "changes", pos: null }, true, null);
  }
  const fields = (token.select as UserField[] | null) ?? DEFAULT_USER_FIELDS;
  const context = `users(${fields.join(",")})`;
  const value: Record<string, unknown>[] = [];
  const pageApplied = applied ? size : null;

  if (token.mode === "full") {
    let ordinal = token.pos ?? 0;
    while (ordinal < tenant.size && value.length < size) {
      const user = tenant.userAt(ordinal++);
      if (live(user)) value.push(userBody(user, fields, null));
    }
    while (ordinal < tenant.size && !live(tenant.userAt(ordinal))) ordinal++;
    const done = ordinal >= tenant.size;
    const next: DeltaToken = done ? { ...token, mode: "changes", pos: null } : { ...token, pos: ordinal };
    return sendPage(ctx, res, path, context, value, next, done, pageApplied);
  }

  const log = tenant.log;
  const current = (entry: { seq: number; oid: string }) => tenant.user(entry.oid)?.changedSeq === entry.seq;
  let index = token.pos ?? firstAfter(log, token.since);
  while (index < log.length && value.length < size) {
    const entry = log[index++]!;
    if (current(entry)) value.push(userBody(tenant.user(entry.oid)!, fields, token.since));
  }
  while (index < log.length && !current(log[index]!)) index++;
  const done = index >= log.length;
  const next: DeltaToken = done ? { ...token, since: ctx.directory.currentSeq, pos: null } : { ...token, pos: index };
  sendPage(ctx, res, path, context, value, next, done, pageApplied);
}

/** `id eq '…'` (joined with `or`): the group IDs, or null when the filter says something else. */
function parseGroupFilter(raw: string): string[] | null {
  const ids: string[] = [];
  for (const part of raw.trim().split(/\s+or\s+/i)) {
    const match = /^id\s+eq\s+'([^']+)'$/i.exec(part.trim());
    if (!match) return null;
    ids.push(match[1]!.toLowerCase());
  }
  return ids;
}

const member = (oid: string, removed: boolean) => ({
  "@odata.type": "#microsoft.graph.user",
  id: oid,
  ...(removed ? { "@removed": { reason: "deleted" } } : {}),
});

function groupsDelta(ctx: Context, req: Req, res: Res, url: URL, tenant: Tenant) {
  const q = url.searchParams;
  const raw = q.get("$deltatoken") ?? q.get("$skiptoken");
  const { size, applied } = pageSize(req, q, ctx.pageLimits.members);
  const path = "/v1.0/groups/delta";
  let token: DeltaToken;
  if (raw && raw.toLowerCase() !== "latest") {
    const read = readToken(ctx, req, res, raw, "groups", tenant);
    if (!read) return;
    token = read;
  } else {
    const parsed = parseSelect(q.get("$select"), GROUP_FIELDS);
    if ("unknown" in parsed)
      return graphError(req, res, 400, "Request_BadRequest", `Could not find a property named '${parsed.unknown}' on type 'microsoft.graph.group'.`);
    const filter = q.get("$filter");
    const ids = filter === null ? null : parseGroupFilter(filter);
    if (filter !== null && !ids)
      return graphError(req, res, 400, "Request_UnsupportedQuery", "Unsupported query: /groups/delta can only be filtered with id eq '…' (joined with or).");
    token = {
      kind: "groups",
      gen: ctx.directory.generation,
      tenant: tenant.id,
      issue: 0,
      mode: "full",
      since: ctx.directory.currentSeq,
      pos: 0,
      after: null,
      select: parsed.select,
      groups: ids,
    };
    if (raw) return sendPage(ctx, res, path, "groups", [], { ...token, mode: "changes", pos: null }, true, null);
  }
  const fields = (token.select as GroupField[] | null) ?? [...GROUP_FIELDS];
  const withMembers = fields.includes("members");
  const wanted = (id: string) => token.groups === null || token.groups.includes(id);
  const groups: DirectoryGroup[] = token.groups === null ? tenant.groups : token.groups.flatMap((id) => tenant.group(id) ?? []);
  const context = `groups(${fields.join(",")})`;
  const pageApplied = applied ? size : null;
  const value: Record<string, unknown>[] = [];
  let listed = 0;

  if (token.mode === "full") {
    let index = token.pos ?? 0;
    let after = token.after;
    while (index < groups.length && listed < size) {
      const group = groups[index]!;
      const body: Record<string, unknown> = { id: group.id };
      if (fields.includes("displayName")) body.displayName = group.displayName;
      let more = false;
      if (withMembers) {
        const members = [...group.members].sort();
        const start = after === null ? 0 : firstGreater(members, after);
        const slice = members.slice(start, start + (size - listed));
        body["members@delta"] = slice.map((oid) => member(oid, false));
        more = start + slice.length < members.length;
        after = slice.at(-1) ?? after;
        listed += Math.max(slice.length, 1);
      } else listed++;
      value.push(body);
      if (more) break;
      index++;
      after = null;
    }
    const done = index >= groups.length;
    const next: DeltaToken = done ? { ...token, mode: "changes", pos: null, after: null } : { ...token, pos: index, after };
    return sendPage(ctx, res, path, context, value, next, done, pageApplied);
  }

  const log = tenant.memberLog;
  const current = (entry: { seq: number; groupId: string; oid: string }) =>
    wanted(entry.groupId) && tenant.group(entry.groupId)?.memberSeq.get(entry.oid) === entry.seq;
  let index = withMembers ? (token.pos ?? firstAfter(log, token.since)) : log.length;
  const bodies = new Map<string, { id: string; "members@delta": unknown[] }>();
  while (index < log.length && listed < size) {
    const entry = log[index++]!;
    if (!current(entry)) continue;
    const group = tenant.group(entry.groupId)!;
    let body = bodies.get(group.id);
    if (!body) bodies.set(group.id, (body = { id: group.id, "members@delta": [] }));
    body["members@delta"].push(member(entry.oid, !group.members.has(entry.oid)));
    listed++;
  }
  while (index < log.length && !current(log[index]!)) index++;
  const done = index >= log.length;
  const next: DeltaToken = done ? { ...token, since: ctx.directory.currentSeq, pos: null } : { ...token, pos: index };
  sendPage(ctx, res, path, context, [...bodies.values()], next, done, pageApplied);
}

/** The index of the first of the sorted `values` greater than `value`. */
function firstGreater(values: string[], value: string): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (values[mid]! <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}

function organization(ctx: Context, res: Res, tenant: Tenant) {
  sendJson(res, 200, {
    "@odata.context": `${ctx.baseUrl}/v1.0/$metadata#organization`,
    value: [
      {
        id: tenant.id,
        displayName: tenant.displayName,
        tenantType: "AAD",
        verifiedDomains: tenant.domains.map((name) => ({
          name,
          isDefault: name === tenant.defaultDomain,
          isInitial: name === tenant.initialDomain,
          type: "Managed",
          capabilities: "Email, OfficeCommunicationsOnline",
        })),
      },
    ],
  });
}

function allowed(req: Req, res: Res, caller: Caller, roles: string[]): boolean {
  if (caller.roles.some((r) => roles.includes(r))) return true;
  graphError(req, res, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
  return false;
}

/** Everything under /v1.0: the caller's tenant comes from the token's tid. */
export async function graph(ctx: Context, req: Req, res: Res, url: URL) {
  if (req.method !== "GET")
    return graphError(req, res, 405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.", { Allow: "GET" });
  const caller = await authenticate(ctx, req, res);
  if (!caller) return;
  const path = url.pathname.toLowerCase().replace(/\/+$/, "").replace(/\(\)$/, "");
  if (path === "/v1.0/organization") return organization(ctx, res, caller.tenant);
  if (path === "/v1.0/users/delta") {
    if (allowed(req, res, caller, USER_ROLES)) usersDelta(ctx, req, res, url, caller.tenant);
    return;
  }
  if (path === "/v1.0/groups/delta") {
    if (allowed(req, res, caller, GROUP_ROLES)) groupsDelta(ctx, req, res, url, caller.tenant);
    return;
  }
  if (path === "/v1.0/groups") {
    if (allowed(req, res, caller, GROUP_ROLES)) listGroups(ctx, req, res, url, caller.tenant);
    return;
  }
  const groupPath = /^\/v1\.0\/groups\/([^/]+)(\/members)?$/.exec(path);
  if (groupPath) {
    if (allowed(req, res, caller, GROUP_ROLES)) oneGroup(ctx, req, res, url, caller.tenant, decodeURIComponent(groupPath[1]!), Boolean(groupPath[2]));
    return;
  }
  graphError(req, res, 404, "Request_ResourceNotFound", `Resource not found for the segment '${path.split("/").pop() ?? ""}'.`);
}

// ---- /groups: search by name, one group, its members ----

type SearchClause = { property: string; term: string };

/**
 * `"displayName:term" OR "displayName:other"`, as Graph's $search reads it: inside a clause `\` escapes the next
 * character; anything else (an unescaped quote mid-term, a dangling backslash) is a syntax error.
 */
export function parseSearch(raw: string): SearchClause[] | null {
  const clauses: SearchClause[] = [];
  let i = 0;
  const space = () => {
    while (raw[i] === " ") i++;
  };
  for (;;) {
    space();
    if (raw[i] !== '"') return null;
    i++;
    let body = "";
    for (;;) {
      const c = raw[i++];
      if (c === undefined) return null;
      if (c === '"') break;
      if (c === "\\") {
        const escaped = raw[i++];
        if (escaped === undefined) return null;
        body += escaped;
      } else body += c;
    }
    const colon = body.indexOf(":");
    if (colon < 1) return null;
    clauses.push({ property: body.slice(0, colon), term: body.slice(colon + 1) });
    space();
    if (i >= raw.length) return clauses;
    const op = /^(OR|AND)\b/.exec(raw.slice(i));
    if (!op) return null;
    i += op[0].length;
  }
}

const GROUP_SELECT = ["id", "displayName", "mail"] as const;

function groupBody(group: DirectoryGroup, select: readonly string[]) {
  const all: Record<string, unknown> = { id: group.id, displayName: group.displayName, mail: group.mail };
  return { id: group.id, ...Object.fromEntries(select.filter((f) => f !== "id").map((f) => [f, all[f]])) };
}

function listGroups(ctx: Context, req: Req, res: Res, url: URL, tenant: Tenant) {
  const q = url.searchParams;
  let groups = [...tenant.groups];
  const search = q.get("$search");
  if (search !== null) {
    if (String(req.headers["consistencylevel"] ?? "").toLowerCase() !== "eventual")
      return graphError(
        req,
        res,
        400,
        "Request_UnsupportedQuery",
        "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
      );
    const clauses = parseSearch(search);
    if (!clauses) return graphError(req, res, 400, "Request_UnsupportedQuery", `Syntax error: the $search value '${search.slice(0, 200)}' is not valid.`);
    const unknown = clauses.find((c) => !["displayName", "description", "mail"].includes(c.property));
    if (unknown) return graphError(req, res, 400, "Request_UnsupportedQuery", `Unsupported property '${unknown.property.slice(0, 50)}' in $search.`);
    groups = groups.filter((g) =>
      clauses.some((c) =>
        String(c.property === "mail" ? (g.mail ?? "") : g.displayName)
          .toLowerCase()
          .includes(c.term.toLowerCase()),
      ),
    );
  }
  const parsed = parseSelect(q.get("$select"), GROUP_SELECT);
  if ("unknown" in parsed)
    return graphError(req, res, 400, "Request_BadRequest", `Could not find a property named '${parsed.unknown}' on type 'microsoft.graph.group'.`);
  const top = q.has("$top") ? Number(q.get("$top")) : DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) return graphError(req, res, 400, "Request_BadRequest", `Invalid value '${q.get("$top")}' for $top.`);
  groups.sort((a, b) => a.displayName.localeCompare(b.displayName));
  sendJson(res, 200, {
    "@odata.context": `${ctx.baseUrl}/v1.0/$metadata#groups`,
    ...(q.get("$count") === "true" ? { "@odata.count": groups.length } : {}),
    value: groups.slice(0, top).map((g) => groupBody(g, parsed.select ?? GROUP_SELECT)),
  });
}

/** /groups/{id} and /groups/{id}/members (direct members, IDs ascending, paged with an offset $skiptoken). */
function oneGroup(ctx: Context, req: Req, res: Res, url: URL, tenant: Tenant, id: string, members: boolean) {
  const group = tenant.group(id);
  if (!group)
    return graphError(
      req,
      res,
      404,
      "Request_ResourceNotFound",
      `Resource '${id.slice(0, 64)}' does not exist or one of its queried reference-property objects are not present.`,
    );
  if (!members) return sendJson(res, 200, { "@odata.context": `${ctx.baseUrl}/v1.0/$metadata#groups/$entity`, ...groupBody(group, GROUP_SELECT) });
  const q = url.searchParams;
  const top = q.has("$top") ? Number(q.get("$top")) : DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) return graphError(req, res, 400, "Request_BadRequest", `Invalid value '${q.get("$top")}' for $top.`);
  const skip = q.has("$skiptoken") ? Number(Buffer.from(q.get("$skiptoken")!, "base64url").toString("utf8")) : 0;
  if (!Number.isSafeInteger(skip) || skip < 0)
    return graphError(req, res, 400, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.");
  const ids = [...group.members].sort();
  const page = ids.slice(skip, skip + top);
  const next = skip + top < ids.length ? new URL(url.pathname + url.search, ctx.baseUrl) : null;
  next?.searchParams.set("$skiptoken", Buffer.from(String(skip + top)).toString("base64url"));
  sendJson(res, 200, {
    "@odata.context": `${ctx.baseUrl}/v1.0/$metadata#directoryObjects`,
    value: page.map((oid) => ({ "@odata.type": "#microsoft.graph.user", id: oid })),
    ...(next ? { "@odata.nextLink": next.toString() } : {}),
  });
}
