// The admin's users list at any size (docs/decisions/024): filters, the sign-in method included, and the search
// are one SQL statement; pages follow a (name, id) cursor; the count is the database's, exact.
import { Prisma } from "~/generated/prisma/client.ts";
import { db } from "./db.server.ts";
import { loadOrgState, methodWhere, strategyIn, strategyUserSelect, type OrgState, type SignInMethod } from "./signin/methods.server.ts";
import { whereSql } from "./where-sql.server.ts";

export const USERS_PAGE = 50;

export const USER_FILTERS = {
  all: "All users",
  synced: "All users with active sync",
  local: "Users not synced",
  microsoft: "Sign in with Microsoft",
  password: "Sign in with password",
  none: "No sign-in method",
} as const;
export type UserFilter = keyof typeof USER_FILTERS;

export type UsersQuery = {
  show: UserFilter;
  q: string;
  /** A user id: the page after that user, or before it (the Previous link). */
  after?: string | null;
  before?: string | null;
};

function filterWhere(state: OrgState, show: UserFilter): Prisma.UserWhereInput {
  if (show === "synced") return { source: "synced", status: "active", syncIntegrationId: state.syncIntegrationId ?? "-" };
  if (show === "local") return { source: { not: "synced" } };
  if (show === "all") return {};
  return methodWhere(state, show satisfies SignInMethod);
}

/** LIKE's own characters typed by the admin match themselves (as in listNotInvited). */
const likePattern = (q: string) => `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Case-insensitive the same way on both databases: the term and the name are lower-cased (email is stored
 * lower-case, phone has no letters) and compared with LIKE, which PostgreSQL and SQLite both read.
 */
function searchSql(q: string): Prisma.Sql {
  if (!q) return Prisma.sql`1 = 1`;
  const p = likePattern(q);
  return Prisma.sql`(LOWER(u."name") LIKE ${p} ESCAPE '\\' OR u."email" LIKE ${p} ESCAPE '\\' OR u."phone" LIKE ${p} ESCAPE '\\')`;
}

const listSelect = {
  ...strategyUserSelect,
  name: true,
  email: true,
  phone: true,
  role: true,
  status: true,
  microsoftLink: { select: { integrationId: true, upn: true, tenantId: true } },
} as const;

type Cursor = { id: string; name: string };

/** One page of the org's users matching the filter and search, the total, and the cursors of the pages around it. */
export async function listUsers(orgId: string, query: UsersQuery) {
  const state = await loadOrgState(orgId);
  const where = Prisma.sql`u."orgId" = ${orgId} AND ${whereSql(filterWhere(state, query.show), orgId)} AND ${searchSql(query.q)}`;
  // A cursor is a user of this org; any other id (another org's, a deleted user's, made up) gives the first page.
  const cursorId = query.after ?? query.before ?? null;
  const cursor = cursorId ? await db.user.findFirst({ where: { id: cursorId, orgId }, select: { id: true, name: true } }) : null;
  const backward = Boolean(cursor && !query.after);
  // The plain range on name lets both databases start the index walk at the cursor.
  const page = (c: Cursor | null, dir: "after" | "before") => {
    const beyond = !c
      ? Prisma.empty
      : dir === "after"
        ? Prisma.sql`AND u."name" >= ${c.name} AND (u."name" > ${c.name} OR u."id" > ${c.id})`
        : Prisma.sql`AND u."name" <= ${c.name} AND (u."name" < ${c.name} OR u."id" < ${c.id})`;
    const order = dir === "after" ? Prisma.sql`u."name" ASC, u."id" ASC` : Prisma.sql`u."name" DESC, u."id" DESC`;
    return db.$queryRaw<{ id: string }[]>`SELECT u."id" FROM "User" u WHERE ${where} ${beyond} ORDER BY ${order} LIMIT ${USERS_PAGE + 1}`;
  };
  const [[{ total }], found] = await Promise.all([
    db.$queryRaw<[{ total: number | bigint }]>`SELECT COUNT(*) AS "total" FROM "User" u WHERE ${where}`,
    page(cursor, backward ? "before" : "after"),
  ]);
  let ids = found.map((r) => r.id);
  let hasBefore = Boolean(cursor) && !backward;
  let hasAfter = backward || ids.length > USERS_PAGE;
  if (backward) {
    hasBefore = ids.length > USERS_PAGE;
    ids = ids.slice(0, USERS_PAGE).reverse();
  }
  // A cursor that leads to no rows, or back to fewer than a page, shows the first page.
  if (cursor && (ids.length === 0 || (backward && !hasBefore))) {
    ids = (await page(null, "after")).map((r) => r.id);
    hasBefore = false;
    hasAfter = ids.length > USERS_PAGE;
  }
  ids = ids.slice(0, USERS_PAGE);
  const rows = new Map((await db.user.findMany({ where: { id: { in: ids } }, select: listSelect })).map((u) => [u.id, u]));
  const users = ids.flatMap((id) => {
    const u = rows.get(id);
    if (!u) return [];
    return [
      {
        id: u.id,
        name: u.name,
        email: u.email,
        phone: u.phone,
        role: u.role,
        source: u.source,
        status: u.status,
        method: strategyIn(state, u).method,
        hasPassword: Boolean(u.passwordHash),
        link: u.microsoftLink ? { upn: u.microsoftLink.upn, tenantId: u.microsoftLink.tenantId } : null,
      },
    ];
  });
  return {
    users,
    total: Number(total),
    previous: hasBefore && ids.length ? ids[0]! : null,
    next: hasAfter && ids.length ? ids.at(-1)! : null,
  };
}
